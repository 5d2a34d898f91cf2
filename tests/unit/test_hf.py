"""Any Hugging Face model (hf:...) and its ONNX export, on tiny random models built here."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnx")

import affectkit  # noqa: E402
from affectkit.analyzers.hf import HFAnalyzer, infer_task, map_labels  # noqa: E402
from affectkit.exceptions import InvalidInputError, ModelFormatError, UnknownModelError  # noqa: E402

WORDS = (
    "i you we it this that the a an is was are be so very really not no but and or of to in on at for with "
    "love like great good happy thanks glad fun best nice hate awful bad worst angry sad sorry terrible boring "
    "movie film food service day train meeting phone screen battery today tomorrow time ending story"
).split()
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCT = list(".,!?:;'()-")

TEXTS = [
    "I really love this movie, it was great!",
    "the worst service, awful and boring",
    "The train is at 9 today.",
    "",
    "not bad at all :)",
    "Thanks!!! so happy 😍",
    "i hate it. i hate it. i hate it.",
]
LONG = " ".join(
    f"The {w} was {'great' if i % 3 else 'awful'} and the story was {'fun' if i % 2 else 'boring'}."
    for i, w in enumerate(["movie", "food", "service", "screen", "battery", "phone", "film", "ending"] * 4)
)
EMOTIONS = ["joy", "anger", "sadness", "gratitude", "neutral"]


def _tokenizer(tmp):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(SPECIALS + WORDS + PUNCT)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=64,
    ), len(vocab)


def _build(path, kind, id2label, problem_type=None, fit=True):
    import torch
    import transformers

    torch.manual_seed(0)
    tok, n_vocab = _tokenizer(path)
    common = {"id2label": dict(enumerate(id2label)), "label2id": {v: k for k, v in enumerate(id2label)}}
    if problem_type:
        common["problem_type"] = problem_type
    if kind == "bert":
        cfg = transformers.BertConfig(vocab_size=n_vocab, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                      intermediate_size=32, max_position_embeddings=64, **common)
        model = transformers.BertForSequenceClassification(cfg)
    else:  # distilbert takes no token_type_ids
        cfg = transformers.DistilBertConfig(vocab_size=n_vocab, dim=16, n_layers=2, n_heads=2, hidden_dim=32,
                                            max_position_embeddings=64, dropout=0.0, attention_dropout=0.0,
                                            seq_classif_dropout=0.0, initializer_range=0.2, **common)
        model = transformers.DistilBertForSequenceClassification(cfg)
    if fit:
        _fit(model, tok, id2label, multi=problem_type is not None)
    model.save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


CUES = {"love": ("POS", "joy"), "great": ("POS", "joy"), "happy": ("POS", "joy"), "thanks": ("POS", "gratitude"),
        "hate": ("NEG", "anger"), "awful": ("NEG", "anger"), "sad": ("NEG", "sadness"), "worst": ("NEG", "sadness")}


def _fit(model, tok, id2label, multi):
    """A few steps on keyword-labelled sentences, so scores depend on the words (a random model's barely do)."""
    import torch

    fill = ["the movie was {}", "i {} it", "{} service today", "so {} !", "the train", "a phone", "the meeting at 9"]
    texts, targets = [], []
    for cue, (polarity, emotion) in [*CUES.items(), ("", ("NEU", "neutral"))]:
        for f in fill[:4] if cue else fill[4:]:
            texts.append(f.format(cue))
            target = torch.zeros(len(id2label))
            for i, name in enumerate(id2label):  # the first three labels of a non-sentiment model stand in
                if name in (polarity, emotion) or f"LABEL_{['NEG', 'NEU', 'POS'].index(polarity)}" == name:
                    target[i] = 1.0
            if not target.any():
                target[["NEG", "NEU", "POS"].index(polarity)] = 1.0
            targets.append(target)
    batch = tok(texts, return_tensors="pt", padding=True)
    y = torch.stack(targets)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = torch.nn.BCEWithLogitsLoss() if multi else torch.nn.CrossEntropyLoss()
    model.train()
    for _ in range(20):
        opt.zero_grad()
        logits = model(**batch).logits
        loss = loss_fn(logits, y if multi else y.argmax(1))
        loss.backward()
        opt.step()
    model.eval()


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and the test machine's cores are shared
    root = tmp_path_factory.mktemp("hf")
    yield {
        "sentiment": _build(root / "sentiment", "bert", ["NEG", "NEU", "POS"]),
        "generic": _build(root / "generic", "bert", ["LABEL_0", "LABEL_1", "LABEL_2"], fit=False),
        "emotion": _build(root / "emotion", "distilbert", EMOTIONS, "multi_label_classification"),
        "other": _build(root / "other", "distilbert", ["1 star", "3 stars", "5 stars"], fit=False),
    }
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sentiment(tiny_hf):
    return affectkit.load(f"hf:{tiny_hf['sentiment']}")


@pytest.fixture(scope="module")
def emotion(tiny_hf):
    return affectkit.load(f"hf:{tiny_hf['emotion']}")


# -- labels and tasks ---------------------------------------------------------------------------
def test_label_spellings():
    assert map_labels(["NEG", "NEU", "POS"]) == ["negative", "neutral", "positive"]
    assert map_labels(["Negative", "NEUTRAL", "positive"]) == ["negative", "neutral", "positive"]
    assert map_labels(["LABEL_0", "LABEL_1"]) == ["negative", "positive"]
    assert map_labels(["Joy", "anger"]) == ["joy", "anger"]
    assert map_labels(["1 star", "5 stars"]) == ["1 star", "5 stars"]
    assert map_labels(["a", "b"], {"a": "negative"}) == ["negative", "b"]
    assert infer_task(["negative", "positive"]) == "sentiment"
    assert infer_task(["joy", "neutral", "anger"]) == "emotion"
    assert infer_task(["1 star", "5 stars"]) == "classification"
    with pytest.raises(InvalidInputError, match="label_map"):
        map_labels(["NEG", "POS"], {"nope": "negative"})
    with pytest.raises(InvalidInputError, match="duplicate"):
        map_labels(["neg", "negative"])


def test_sentiment_model(sentiment):
    assert isinstance(sentiment, HFAnalyzer)
    assert sentiment.labels_ == affectkit.SENTIMENT_LABELS
    assert sentiment.tags.task == "sentiment" and not sentiment.tags.multi_label
    p = sentiment.predict_proba(TEXTS)
    assert p.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-6)
    r = sentiment.analyze("I love it")
    assert r.label in affectkit.SENTIMENT_LABELS and set(r.scores) == set(affectkit.SENTIMENT_LABELS)


def test_generic_labels_warn(tiny_hf, caplog):
    with caplog.at_level(logging.WARNING, logger="affectkit.analyzers.hf"):
        m = affectkit.load(f"hf:{tiny_hf['generic']}")
        assert m.labels_ == affectkit.SENTIMENT_LABELS
    assert "assuming" in caplog.text


def test_multi_label_model(emotion):
    assert emotion.tags.multi_label and emotion.tags.task == "emotion"
    # affectkit's label order (GoEmotions order), not the model's
    assert emotion.labels_ == tuple(label for label in affectkit.EMOTION_LABELS if label in EMOTIONS)
    p = emotion.predict_proba(TEXTS)
    assert ((p >= 0) & (p <= 1)).all()
    assert emotion.predict(TEXTS, threshold=0.0).all()
    assert not emotion.predict(TEXTS, threshold=1.0).any()


def test_column_order_follows_labels(tiny_hf, emotion):
    """Our columns are the model's columns, reordered: compare with the model called directly."""
    import torch

    model, tok = emotion._weights()
    with torch.no_grad():
        z = model(**tok(["i love it"], return_tensors="pt")).logits.numpy()[0]
    raw = dict(zip(EMOTIONS, 1 / (1 + np.exp(-z)), strict=True))
    got = emotion.predict_proba(["i love it"])[0]
    np.testing.assert_allclose(got, [raw[label] for label in emotion.labels_], atol=1e-6)


def test_label_map_and_task(tiny_hf):
    m = affectkit.load(f"hf:{tiny_hf['other']}", label_map={"1 star": "negative", "3 stars": "neutral",
                                                            "5 stars": "positive"})
    assert m.labels_ == affectkit.SENTIMENT_LABELS and m.tags.task == "sentiment"
    plain = affectkit.load(f"hf:{tiny_hf['other']}")
    assert plain.labels_ == ("1 star", "3 stars", "5 stars") and plain.tags.task == "classification"
    assert plain.predict(["great"])[0] in plain.labels_
    assert affectkit.load(f"hf:{tiny_hf['other']}", task="stars").tags.task == "stars"
    with pytest.raises(InvalidInputError, match="label_map"):
        affectkit.load(f"hf:{tiny_hf['other']}", label_map={"2 stars": "negative"})


# -- the contract -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sentiment", "emotion"])
def test_contract(name, request):
    m = request.getfixturevalue(name)
    batch = m.predict_proba(TEXTS)
    one_by_one = np.vstack([m.predict_proba([t]) for t in TEXTS])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-5)
    np.testing.assert_allclose(m.predict_proba(TEXTS[::-1]), batch[::-1], atol=1e-5)
    assert m.predict_proba([]).shape == (0, len(m.labels_))
    assert m.analyze([]) == []
    assert m.analyze("").empty
    assert len(m.analyze(TEXTS)) == len(TEXTS)


def test_long_text_is_split_not_truncated(tiny_hf):
    m = affectkit.load(f"hf:{tiny_hf['sentiment']}", max_length=24)
    assert len(m._hf().encode([LONG])[0]) > 3 * 24
    r = m.analyze(LONG)
    assert len(r.segments) > 3
    assert r.segments[0].start == 0 and r.segments[-1].end == len(LONG)
    # a change at the very end of the text changes the scores: the end was read
    changed = LONG[: LONG.rindex("was")] + "was awful awful awful awful awful awful."
    assert not np.allclose(m.predict_proba([LONG]), m.predict_proba([changed]))
    # the document's scores lie between its segments' (a weighted mean of them)
    seg = np.array([[s.scores[label] for label in m.labels_] for s in r.segments])
    doc = np.array([r.scores[label] for label in m.labels_])
    assert (seg.min(0) - 1e-9 <= doc).all() and (doc <= seg.max(0) + 1e-9).all()
    np.testing.assert_allclose(m.predict_proba([LONG])[0], doc)
    emo = affectkit.load(f"hf:{tiny_hf['emotion']}", max_length=24)
    re_ = emo.analyze(LONG)
    seg = np.array([[s.scores[label] for label in emo.labels_] for s in re_.segments])
    np.testing.assert_allclose(seg.max(0), [re_.scores[label] for label in emo.labels_])


def test_max_length_validation(tiny_hf):
    with pytest.raises(InvalidInputError, match="max_length"):
        affectkit.load(f"hf:{tiny_hf['sentiment']}", max_length=1000)
    with pytest.raises(InvalidInputError, match="batch_size"):
        affectkit.load(f"hf:{tiny_hf['sentiment']}", batch_size=0)


def test_save_load_identical(sentiment, emotion, tmp_path):
    for m, name in ((sentiment, "s"), (emotion.set_params(threshold=0.3), "e")):
        path = m.save(tmp_path / name)
        config = json.loads((path / "config.json").read_text())
        assert config["analyzer"] == "hf" and (path / "hf" / "config.json").is_file()
        back = affectkit.load(path)
        assert isinstance(back, HFAnalyzer) and back.labels_ == m.labels_
        np.testing.assert_array_equal(back.predict_proba(TEXTS + [LONG]), m.predict_proba(TEXTS + [LONG]))
        assert back.threshold == m.threshold
        assert affectkit.load(f"hf:{path}").labels_ == m.labels_  # hf: on a saved directory works too
    emotion.set_params(threshold=None)


def test_clear_errors(tmp_path):
    with pytest.raises(UnknownModelError, match="No Hugging Face model directory"):
        affectkit.load(f"hf:{tmp_path / 'missing'}")
    with pytest.raises(UnknownModelError, match="unreachable") as info:
        affectkit.load("hf:nobody-here/no-such-model-xyz", local_files_only=True)
    assert "nobody-here/no-such-model-xyz" in str(info.value) and "local" in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFormatError, match="Hugging Face"):
        affectkit.load(f"hf:{tmp_path / 'empty'}")
    with pytest.raises(InvalidInputError, match="'hf:' needs"):
        affectkit.load("hf:")
    with pytest.raises(InvalidInputError, match="has no parameter"):
        affectkit.load("hf:x/y", no_such_param=1)


# -- ONNX export --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sentiment", "emotion"])
def test_export_round_trip(tiny_hf, tmp_path, name):
    """The "done when": load hf:, predict, export, load the export: the same labels and scores."""
    from affectkit.analyzers.transformer import TransformerAnalyzer
    from affectkit.train.hf_export import export_hf

    # an analyzer with its own max_length, and a model given by name with the model's limit (64)
    hf = affectkit.load(f"hf:{tiny_hf[name]}", **({"max_length": 32} if name == "emotion" else {}))
    texts = TEXTS + [LONG, "URLs stay http://example.com/x and @someone too 😡"]
    want = hf.predict_proba(texts)
    assert 0.05 < want.std()  # scores spread out: the comparison below means something
    out = export_hf(f"hf:{tiny_hf[name]}" if name == "sentiment" else hf, tmp_path / "onnx")
    assert {p.name for p in out.iterdir()} == {"config.json", "model.onnx", "tokenizer.json"}
    onnx = affectkit.load(out)
    assert isinstance(onnx, TransformerAnalyzer)
    assert onnx.labels_ == hf.labels_ and onnx.tags.task == hf.tags.task
    assert onnx.tags.multi_label == hf.tags.multi_label
    got = onnx.predict_proba(texts)
    np.testing.assert_allclose(got, want, atol=1e-4)
    np.testing.assert_array_equal(onnx.predict(texts), hf.predict(texts))
    r_hf, r_onnx = hf.analyze(LONG), onnx.analyze(LONG)
    assert [(s.start, s.end) for s in r_onnx.segments] == [(s.start, s.end) for s in r_hf.segments]
    assert len(r_hf.segments) > 1
    config = json.loads((out / "config.json").read_text())
    assert config["normalize"] is False and config["export_check"]["max_abs_diff"] < 1e-4


def test_export_rejects_other_models(tmp_path):
    from affectkit.train.hf_export import export_hf

    with pytest.raises(InvalidInputError, match="storage"):
        export_hf("hf:x/y", tmp_path, storage="int4")
    with pytest.raises(InvalidInputError, match="Hugging Face model"):
        export_hf(affectkit.load("lexicon"), tmp_path)
    with pytest.raises(InvalidInputError, match="'hf:sentiment'"):
        export_hf("sentiment", tmp_path)


def test_cli_export(tiny_hf, tmp_path):
    from typer.testing import CliRunner

    from affectkit.cli.main import app

    runner = CliRunner()
    result = runner.invoke(app, ["export", f"hf:{tiny_hf['sentiment']}", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "model.onnx").is_file()
    assert "affectkit.load" in result.output
    m = affectkit.load(tmp_path / "out")
    assert m.labels_ == affectkit.SENTIMENT_LABELS
    bad = runner.invoke(app, ["export", f"hf:{tmp_path / 'missing'}", str(tmp_path / "out2")])
    assert bad.exit_code != 0 and "No Hugging Face model directory" in bad.output
