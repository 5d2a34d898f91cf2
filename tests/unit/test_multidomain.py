"""The multi-domain recipe's parts: warm start from a shipped ONNX model, frozen lower layers,
pooled sentiment sets, GoEmotions' sentiment level, several selection sets."""

from __future__ import annotations

import numpy as np
import pytest

from affectkit.datasets import detokenize_ptb, sentence_polarity
from affectkit.train.multitask import goemotions_sentiment


def test_ptb_tokens_back_to_text():
    assert detokenize_ptb("it does n't work -lrb- at all -rrb- .") == "it doesn't work (at all)."
    assert detokenize_ptb("ca n't complain , it 's fine !") == "can't complain, it's fine!"
    assert detokenize_ptb("`` great '' movie") == '"great" movie'


def test_sentence_polarity_from_aspects():
    from affectkit.datasets import AbsaSentence

    agree = AbsaSentence("x", [("food", 0, 4, "positive"), ("staff", 5, 9, "positive")], {"food": "positive"})
    assert sentence_polarity(agree) == "positive"
    assert sentence_polarity(AbsaSentence("x", [("a", 0, 1, "positive"), ("b", 2, 3, "negative")])) is None
    assert sentence_polarity(AbsaSentence("x", [("a", 0, 1, "conflict")])) is None
    assert sentence_polarity(AbsaSentence("x", [])) is None


def test_goemotions_sentiment_level():
    assert goemotions_sentiment(("joy", "love")) == "positive"
    assert goemotions_sentiment(("anger",)) == "negative"
    assert goemotions_sentiment(("neutral",)) == "neutral"
    assert goemotions_sentiment(("joy", "anger")) is None
    assert goemotions_sentiment(("surprise",)) is None


def test_warm_start_reads_the_exported_weights_back(tiny_transformer):
    torch = pytest.importorskip("torch")
    from affectkit.train.multitask import build_model
    from affectkit.train.warmstart import state_dict_from_onnx

    exported = build_model(tiny_transformer["base"])
    exported.load_state_dict(torch.load(tiny_transformer["run"] / "best.pt", weights_only=True))
    state = state_dict_from_onnx(tiny_transformer["dir"] / "model.onnx")
    own = exported.state_dict()
    assert set(state) == {k for k in own if not k.endswith("position_ids")}
    for name, value in state.items():  # fp16 storage: equal to half precision
        np.testing.assert_allclose(value, own[name].numpy(), atol=2e-3, rtol=2e-3, err_msg=name)


def test_warm_start_rejects_other_files(tmp_path):
    from affectkit.exceptions import ModelFormatError
    from affectkit.train.warmstart import state_dict_from_onnx

    onnx = pytest.importorskip("onnx")
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g",
                                   [onnx.helper.make_tensor_value_info("x", 1, [1])],
                                   [onnx.helper.make_tensor_value_info("y", 1, [1])])
    onnx.save(onnx.helper.make_model(graph), tmp_path / "m.onnx")
    with pytest.raises(ModelFormatError, match="no fused Attention"):
        state_dict_from_onnx(tmp_path / "m.onnx")


def test_continued_training_keeps_frozen_layers_and_scores_every_selection_set(tiny_transformer, tmp_path):
    """init + freeze=1: embeddings and layer 0 (what the aspect branch reads) end as they began."""
    torch = pytest.importorskip("torch")
    from affectkit.labels import EMOTION_LABELS, SENTIMENT_LABELS
    from affectkit.metrics import indicator
    from affectkit.train.multitask import TrainConfig, train
    from affectkit.train.warmstart import state_dict_from_onnx
    from conftest import EMOTION_TEXTS, EMOTION_Y, SENTIMENT_TEXTS, SENTIMENT_Y

    Y = indicator(EMOTION_Y, EMOTION_LABELS)
    data = {
        "sent_texts": SENTIMENT_TEXTS, "sent_y": np.array([SENTIMENT_LABELS.index(v) for v in SENTIMENT_Y]),
        "emo_texts": EMOTION_TEXTS, "emo_Y": Y,
        "emo_sent_y": np.array([-100 if goemotions_sentiment(y) is None else SENTIMENT_LABELS.index(goemotions_sentiment(y))
                                for y in EMOTION_Y]),
        "sent_val_texts": SENTIMENT_TEXTS, "sent_val_y": SENTIMENT_Y,
        "selection": [("binary", SENTIMENT_TEXTS[:6], ["positive", "negative"] * 3, ("negative", "positive"))],
        "emo_dev_texts": EMOTION_TEXTS, "emo_dev_Y": Y,
    }
    cfg = TrainConfig(out=str(tmp_path / "run"), base=str(tiny_transformer["base"]), epochs=1, batch_size=8, lr=1e-2,
                      max_length=32, threads=1, init=str(tiny_transformer["dir"]), freeze=1, goemotions_sentiment=0.5,
                      keep_epochs=True)
    report = train(cfg, data=data)
    assert (tmp_path / "run" / "epoch1.pt").is_file()  # keep_epochs: every epoch's weights, for interpolation
    assert set(report["best"]["selection"]) == {"binary"}
    before = state_dict_from_onnx(tiny_transformer["dir"] / "model.onnx")
    after = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    frozen = [k for k in before if k.startswith(("encoder.embeddings.", "encoder.encoder.layer.0."))]
    assert frozen
    for k in frozen:
        np.testing.assert_array_equal(after[k].numpy(), before[k], err_msg=k)
    moved = [k for k in before if k.startswith("encoder.encoder.layer.1.")]
    assert any(not np.allclose(after[k].numpy(), before[k]) for k in moved)


def test_shared_sets_for_the_recipe():
    from affectkit.datasets import data_root, load_dataset

    root = data_root()
    if root is None or not (root / "sst").is_dir() or not (root / "semeval2014-absa").is_dir():
        pytest.skip("../shared/data is not here")
    sst = load_dataset("sst:train")
    assert len(sst.texts) == 8544 and set(sst.y) == {"negative", "neutral", "positive"}
    assert not any(" n't" in t or "-lrb-" in t for t in sst.texts)
    binary = load_dataset("sst:binary-dev")
    assert binary.labels == ("negative", "positive") and len(binary.texts) == 872
    train, val = load_dataset("absa-sentences:train"), load_dataset("absa-sentences:val")
    assert not set(train.texts) & set(val.texts)
    assert len(val.texts) > 300 and len(train.texts) > 4000


def test_contrast_set_ships_with_the_package():
    from collections import Counter

    from affectkit.datasets import load_dataset

    polar, mixed, both = (load_dataset(f"contrast:{s}") for s in ("sentiment", "mixed", "all"))
    assert len(polar.texts) + len(mixed.texts) == len(both.texts) >= 200
    assert set(polar.y) == {"negative", "neutral", "positive"} and set(mixed.y) == {"mixed"}
    assert len(set(both.texts)) == len(both.texts)
    assert min(Counter(polar.y).values()) >= 15
    with pytest.raises(Exception, match="no 'test' split"):
        load_dataset("contrast:test")


def test_interpolate_weights_between_start_and_end():
    torch = pytest.importorskip("torch")
    from affectkit.exceptions import ModelFormatError
    from affectkit.train.warmstart import interpolate

    a = {"w": torch.zeros(2, 2), "steps": torch.tensor([3])}
    b = {"w": torch.ones(2, 2), "steps": torch.tensor([7])}
    mid = interpolate(a, b, 0.3)
    torch.testing.assert_close(mid["w"], torch.full((2, 2), 0.3))
    assert mid["steps"].item() == 7  # not floating point: taken from the end
    torch.testing.assert_close(interpolate(a, b, 0.0)["w"], a["w"])
    torch.testing.assert_close(interpolate(a, b, 1.0)["w"], b["w"])
    with pytest.raises(ValueError, match="alpha"):
        interpolate(a, b, 1.5)
    with pytest.raises(ModelFormatError, match="shape"):
        interpolate(a, {"w": torch.ones(3), "steps": b["steps"]}, 0.5)
    with pytest.raises(ModelFormatError, match="different tensors"):
        interpolate(a, {"w": b["w"]}, 0.5)
