"""The transformer generation on a tiny model built here: train, export to ONNX, serve."""

from __future__ import annotations

import json

import numpy as np
import pytest

import affectkit
from affectkit.exceptions import InvalidInputError


def test_training_report(tiny_transformer):
    report = tiny_transformer["report"]
    assert len(report["history"]) == 2
    assert 0 <= report["best"]["sentiment"]["macro_recall"] <= 1
    assert len(report["best"]["thresholds"]) == 28
    assert (tiny_transformer["run"] / "train_report.json").is_file()


def test_onnx_matches_torch(tiny_transformer):
    import torch

    from affectkit.train.batches import encode_texts
    from affectkit.train.multitask import _tokenizer, build_model, predict_logits

    texts = ["I love it!!", "awful 😡 service", "the bus leaves at 9", ""]
    model = build_model(tiny_transformer["base"])
    model.load_state_dict(torch.load(tiny_transformer["run"] / "best.pt", weights_only=True))
    s, e = predict_logits(model, encode_texts(_tokenizer(tiny_transformer["base"]), texts, 32))
    onnx_model = affectkit.load(tiny_transformer["dir"])
    scores = onnx_model.predict_all(texts)
    ref_s = np.exp(s) / np.exp(s).sum(1, keepdims=True)
    # weights are stored as fp16: agreement to ~1e-3, identical labels
    np.testing.assert_allclose(scores["sentiment"], ref_s, atol=2e-3)
    np.testing.assert_allclose(scores["emotion"], 1 / (1 + np.exp(-e)), atol=2e-3)
    assert (scores["sentiment"].argmax(1) == ref_s.argmax(1)).all()


def test_one_pass_serves_both_heads(tiny_transformer):
    sent = affectkit.load(tiny_transformer["dir"])
    emo = affectkit.load(tiny_transformer["dir"], head="emotion")
    texts = ["thank you!", "so angry", "a table"]
    both = sent.predict_all(texts)
    np.testing.assert_allclose(both["sentiment"], sent.predict_proba(texts))
    np.testing.assert_allclose(both["emotion"], emo.predict_proba(texts))
    assert emo.tags.multi_label and not sent.tags.multi_label
    assert emo.labels_ == affectkit.EMOTION_LABELS
    r = emo.analyze("thank you so much")
    assert set(r.levels) == {"ekman", "polarity"}


def test_long_text_is_segmented_not_truncated(tiny_transformer):
    m = affectkit.load(tiny_transformer["dir"])
    sentence = "The screen is great and the battery lasts long. "
    text = sentence * 60
    r = m.analyze(text)
    assert len(r.segments) > 1
    assert r.segments[0].start == 0 and r.segments[-1].end == len(text.rstrip())
    for a, b in zip(r.segments, r.segments[1:], strict=False):
        assert a.end <= b.start
    # sentiment of the document: token-weighted mean of the segments
    seg = np.array([[s.scores[k] for k in m.labels_] for s in r.segments])
    assert np.all(np.array(list(r.scores.values())) <= seg.max(0) + 1e-12)
    np.testing.assert_allclose(sum(r.scores.values()), 1.0)
    emo = affectkit.load(tiny_transformer["dir"], head="emotion").analyze(text)
    seg = np.array([[s.scores[k] for k in emo.scores] for s in emo.segments])
    np.testing.assert_allclose(list(emo.scores.values()), seg.max(0))


def test_one_long_sentence_is_cut_between_words(tiny_transformer):
    m = affectkit.load(tiny_transformer["dir"])
    text = "good bad " * 600  # no sentence end at all
    r = m.analyze(text)
    assert len(r.segments) > 10 and r.segments[-1].end == len(text.rstrip())
    covered = "".join(text[s.start : s.end] for s in r.segments).replace(" ", "")
    assert covered == text.replace(" ", "")


def test_save_copies_directory(tiny_transformer, tmp_path):
    emo = affectkit.load(tiny_transformer["dir"], head="emotion", threshold=0.3)
    emo.save(tmp_path / "copy")
    cfg = json.loads((tmp_path / "copy" / "config.json").read_text())
    assert cfg["params"]["head"] == "emotion" and cfg["task"] == "emotion"
    again = affectkit.load(tmp_path / "copy")
    assert again.head == "emotion" and again.threshold == 0.3


def test_bad_parameters(tiny_transformer):
    with pytest.raises(InvalidInputError, match="'head'"):
        affectkit.load(tiny_transformer["dir"], head="sarcasm").predict_proba(["x"])
    with pytest.raises(InvalidInputError, match="'batch_size'"):
        affectkit.load(tiny_transformer["dir"], batch_size=0).predict_proba(["x"])


def test_hf_export(tiny_transformer, tmp_path):
    transformers = pytest.importorskip("transformers")

    from affectkit.train.export import write_hf_models

    paths = write_hf_models(tiny_transformer["run"] / "best.pt", tiny_transformer["base"], tmp_path / "hf")
    pipe = transformers.pipeline("feature-extraction", model=str(paths["encoder"]), device="cpu")
    hidden = pipe(["I love it"], return_tensors=True)[0][0].numpy()  # (seq, hidden)
    heads = np.load(paths["heads"])
    logits = hidden.mean(axis=0) @ heads["sentiment_W"].T + heads["sentiment_b"]
    ref = np.exp(logits) / np.exp(logits).sum()
    ours = affectkit.load(tiny_transformer["dir"]).predict_proba(["I love it"])[0]
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_backbone_is_cached_per_parameters_and_not_pickled():
    import pickle

    import affectkit

    a = affectkit.load("sentiment")
    p = a.predict_proba(["great"])
    first = a._bb()
    assert a._bb() is first
    a.set_params(spin=False)
    assert a._bb() is not first
    np.testing.assert_allclose(a.predict_proba(["great"]), p, atol=1e-6)
    b = pickle.loads(pickle.dumps(a))
    assert "_bb_cached" not in b.__dict__ and b.get_params()["spin"] is False
    np.testing.assert_allclose(b.predict_proba(["great"]), p, atol=1e-6)


def test_analyze_heads_equals_each_head_alone():
    import affectkit
    from affectkit.analyzers.transformer import analyze_heads

    s, e = affectkit.load("sentiment"), affectkit.load("emotion", threshold=0.3)
    texts = ["I love it", None, "", "Awful. " * 200, "what a surprise!"]  # a long one is segmented
    both = analyze_heads([s, e], texts)
    for got, model in zip(both, (s, e), strict=True):
        alone = model.analyze(texts)
        assert [r.labels for r in got] == [r.labels for r in alone]
        assert [r.warnings for r in got] == [r.warnings for r in alone]
        assert [len(r.segments) for r in got] == [len(r.segments) for r in alone]
        for a, b in zip(got, alone, strict=True):
            assert all(abs(a.scores[k] - b.scores[k]) < 1e-5 for k in a.scores)
    assert analyze_heads([s, e], []) == [[], []]
    with pytest.raises(InvalidInputError, match="one transformer"):
        analyze_heads([s, affectkit.load("lexicon")], ["x"])
