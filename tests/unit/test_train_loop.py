"""The one training loop (affectkit.train.loop) and its parts."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from affectkit.train.loop import EarlyStopping, class_weights, fit_loop, param_groups, warmup_schedule  # noqa: E402


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = torch.nn.Linear(2, 4)
        self.LayerNorm = torch.nn.LayerNorm(4)
        self.head = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.LayerNorm(self.encoder(x)))


def test_param_groups_split_decay_and_head():
    groups = param_groups(Tiny(), 0.1, body="encoder.", head_lr=1e-2)
    assert [len(g["params"]) for g in groups] == [1, 1, 4]  # encoder.weight | encoder.bias | the rest
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0, 0.0] and groups[2]["lr"] == 1e-2
    (one,) = param_groups(Tiny(), 0.1, body=None, no_decay=())
    assert len(one["params"]) == 6 and "lr" not in one


def test_warmup_schedule_rises_then_falls():
    opt = torch.optim.SGD(Tiny().parameters(), lr=1.0)
    sched = warmup_schedule(opt, total_steps=10, warmup=0.2)
    lrs = []
    for _ in range(10):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert lrs[:3] == [0.5, 1.0, 1.0] and lrs[-1] == pytest.approx(1 / 8)


def test_class_weights():
    y = np.array([0, 0, 0, 1])
    np.testing.assert_allclose(class_weights(y, 2), [4 / 6, 2.0])
    w = class_weights(y, 2, "sqrt")
    assert w[1] > w[0] and (w[y]).mean() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="kind"):
        class_weights(y, 2, "inverse")


def test_fit_loop_early_stopping_restores_best():
    torch.manual_seed(0)
    model = Tiny()
    X, y = torch.randn(32, 2), torch.randint(0, 2, (32,))
    losses = iter([1.0, 0.5, 0.7, 0.9, 0.2])  # the validation "loss" of each epoch
    kept = {}

    def evaluate():
        return {"val_loss": next(losses)}

    def on_epoch(record, improved):
        if improved:
            kept[record["epoch"]] = {k: v.clone() for k, v in model.state_dict().items()}

    stopping = EarlyStopping.lowest("val_loss", 2)
    history = fit_loop(model, lambda epoch: [torch.arange(32)], lambda m, idx: torch.nn.functional.cross_entropy(m(X[idx]), y[idx]),
                       optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=5, evaluate=evaluate,
                       stopping=stopping, on_epoch=on_epoch, log=lambda m: None)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]  # two epochs without improvement after epoch 2
    assert stopping.best["epoch"] == 2 and not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, kept[2][k])
