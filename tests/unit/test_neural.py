"""The BiLSTM analyzer (neural generation): training, ONNX inference without torch, save/load."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import affectkit

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from conftest import SENTIMENT_TEXTS, SENTIMENT_Y  # noqa: E402

EMO7 = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
# Written for these tests.
EMO7_TEXTS = [
    "I am furious with you", "This makes me so angry", "I am furious and mad",
    "That smell is disgusting", "Gross, this food is revolting", "So disgusting and gross",
    "I am scared of the dark", "That noise frightened me", "I am so scared and afraid",
    "I am so happy today", "What a joyful day, I love it", "So happy and glad",
    "The bus leaves at noon", "The table has four legs", "The report is on the desk",
    "I feel so sad and lonely", "I miss her, I am sad", "Sad news today, I cried",
    "Wow, I did not expect that", "What a surprise, wow", "Wow, totally unexpected",
]  # fmt: skip
EMO7_Y = [lab for lab in ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise") for _ in range(3)]


@pytest.fixture(scope="module")
def sentiment(tiny_bilstm):
    return tiny_bilstm["tiny-bilstm-sentiment"]


@pytest.fixture(scope="module")
def emotion(tiny_bilstm):
    return tiny_bilstm["tiny-bilstm-emotion"]


@pytest.fixture(scope="module")
def emo7_dir(tmp_path_factory):
    from affectkit.analyzers.neural import BiLSTMAnalyzer

    model = BiLSTMAnalyzer(task="emotion", min_count=1, embed_dim=16, hidden=16, batch_size=8, lr=1e-2,
                           dropout=0.0, max_epochs=20).fit(EMO7_TEXTS, EMO7_Y, labels=EMO7)
    return model.save(tmp_path_factory.mktemp("emo7") / "model")


def test_tags_and_labels(sentiment, emotion):
    assert sentiment.tags.generation == "neural" and sentiment.tags.trainable
    assert not sentiment.tags.multi_label and emotion.tags.multi_label
    assert sentiment.labels_ == affectkit.SENTIMENT_LABELS
    assert sentiment.kind == "bilstm"


def test_learns_training_set(sentiment):
    acc = (sentiment.predict(SENTIMENT_TEXTS) == np.asarray(SENTIMENT_Y)).mean()
    assert acc >= 0.8  # chance is 1/3
    assert sentiment.history_[-1]["train_loss"] < sentiment.history_[0]["train_loss"]


def test_save_load_identical(sentiment, tmp_path):
    path = sentiment.save(tmp_path / "m")
    assert {p.name for p in path.iterdir()} >= {"config.json", "vocab.json", "model.onnx"}
    assert json.loads((path / "config.json").read_text())["analyzer"] == "bilstm"
    loaded = affectkit.load(path)
    texts = SENTIMENT_TEXTS + ["", "😍😍", "word " * 300]
    np.testing.assert_array_equal(loaded.predict_proba(texts), sentiment.predict_proba(texts))


def test_predict_without_torch(sentiment, tmp_path):
    path = sentiment.save(tmp_path / "m")
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"  # any import of torch now fails
        "import affectkit\n"
        f"m = affectkit.load({str(path)!r})\n"
        "p = m.predict_proba(['I love this', ''])\n"
        "assert p.shape == (2, 3)\n"
        "print(','.join(f'{v:.8f}' for v in p.ravel()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    got = np.array([float(v) for v in out.stdout.strip().split(",")]).reshape(2, 3)
    np.testing.assert_allclose(got, sentiment.predict_proba(["I love this", ""]), atol=1e-7)


def test_long_text_is_chunked(sentiment):
    m = sentiment.max_len
    pos, neg = "love great wonderful ", "hate awful terrible "
    text = pos * m + neg * m  # 6*m tokens: three chunks of positive words, three of negative
    ids = sentiment._ids(text)
    assert len(ids) > m
    chunks = sentiment._chunks(ids)
    assert len(chunks) == 6 and all(len(c) == m for c in chunks)
    p_text = sentiment.predict_proba([text])[0]
    p_chunks = sentiment.predict_proba([" ".join([pos.strip()] * m), " ".join([neg.strip()] * m)])
    np.testing.assert_allclose(p_text, p_chunks.mean(axis=0), atol=1e-6)
    truncated = sentiment.predict_proba([" ".join(text.split()[:m])])[0]
    assert not np.allclose(p_text, truncated, atol=1e-3)


def test_odd_inputs(sentiment, emotion):
    for model in (sentiment, emotion):
        p = model.predict_proba(["", None, "😍😍😍", "   ", "!!!", "zzqx unknownword"])
        assert p.shape == (6, len(model.labels_)) and np.isfinite(p).all()
        np.testing.assert_allclose(p[0], p[1])  # None is scored as an empty text
        assert model.analyze([None])[0].empty


def test_multi_label_thresholds(emotion, tmp_path):
    assert emotion.thresholds_.shape == (len(emotion.labels_),)
    assert ((emotion.thresholds_ > 0) & (emotion.thresholds_ < 1)).all()
    proba = emotion.predict_proba(["I am furious about this"])
    np.testing.assert_array_equal(emotion.predict(["I am furious about this"]),
                                  (proba >= emotion.thresholds_).astype(int))
    loaded = affectkit.load(emotion.save(tmp_path / "e"))
    np.testing.assert_array_equal(loaded.thresholds_, emotion.thresholds_)
    assert loaded.tags.multi_label


def test_fit_validates(tmp_path):
    from affectkit.analyzers.neural import BiLSTMAnalyzer
    from affectkit.exceptions import InvalidInputError, NotFittedError

    with pytest.raises(InvalidInputError, match="max_len"):
        BiLSTMAnalyzer(max_len=0).fit(["a", "b"], ["x", "y"])
    with pytest.raises(NotFittedError):
        BiLSTMAnalyzer().predict_proba(["a"])


def test_cli_train_bilstm(tmp_path):
    from typer.testing import CliRunner

    from affectkit.cli.main import app

    data = tmp_path / "data.csv"
    rows = ["text,label"] + [f'"{t}",{y}' for t, y in zip(SENTIMENT_TEXTS, SENTIMENT_Y, strict=True)]
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "model"
    res = CliRunner().invoke(app, ["train", str(data), "--out", str(out), "--label-col", "label",
                                   "--arch", "bilstm", "--epochs", "2"])
    assert res.exit_code == 0, res.output
    model = affectkit.load(out)
    assert model.kind == "bilstm" and model.labels_ == affectkit.SENTIMENT_LABELS
    assert (out / "README.md").is_file()
    assert model.predict_proba(["great"]).shape == (1, 3)


def test_speech_text_branch(emo7_dir):
    pytest.importorskip("soundfile")
    from affectkit.audio.analyzer import EMOTIONS7, SpeechTextEmotionAnalyzer

    assert EMOTIONS7 == EMO7
    bilstm = affectkit.load(emo7_dir)
    expected = bilstm.predict_proba(["I am furious"])[0]
    for text in (str(emo7_dir), bilstm):
        res = SpeechTextEmotionAnalyzer(text=text).analyze(None, "I am furious")
        np.testing.assert_allclose([res.scores[c] for c in EMO7], expected, atol=1e-12)
        assert res.label == EMO7[int(expected.argmax())]
    via_load = affectkit.load("audio", text=str(emo7_dir)).analyze(None, "I am furious")
    np.testing.assert_allclose([via_load.scores[c] for c in EMO7], expected, atol=1e-12)


def test_speech_text_branch_any_label_order():
    """Trained without labels=..., the 7 labels come in Ekman order; the branch maps them by name."""
    pytest.importorskip("soundfile")
    from affectkit.analyzers.neural import BiLSTMAnalyzer
    from affectkit.audio.analyzer import SpeechTextEmotionAnalyzer

    model = BiLSTMAnalyzer(task="emotion", min_count=1, embed_dim=16, hidden=16, batch_size=8, lr=1e-2,
                           max_epochs=5).fit(EMO7_TEXTS, EMO7_Y)
    assert set(model.labels_) == set(EMO7) and model.labels_ != EMO7
    expected = dict(zip(model.labels_, model.predict_proba(["I am furious"])[0], strict=True))
    res = SpeechTextEmotionAnalyzer(text=model).analyze(None, "I am furious")
    np.testing.assert_allclose([res.scores[c] for c in EMO7], [expected[c] for c in EMO7], atol=1e-12)


# -- TextCNN -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cnn_sentiment(tiny_textcnn):
    return tiny_textcnn["tiny-textcnn-sentiment"]


@pytest.fixture(scope="module")
def cnn_emotion(tiny_textcnn):
    return tiny_textcnn["tiny-textcnn-emotion"]


def test_textcnn_tags_and_learns(cnn_sentiment, cnn_emotion):
    assert cnn_sentiment.kind == "textcnn" and cnn_sentiment.tags.generation == "neural"
    assert not cnn_sentiment.tags.multi_label and cnn_emotion.tags.multi_label
    assert cnn_sentiment.labels_ == affectkit.SENTIMENT_LABELS
    acc = (cnn_sentiment.predict(SENTIMENT_TEXTS) == np.asarray(SENTIMENT_Y)).mean()
    assert acc >= 0.8  # chance is 1/3
    assert cnn_sentiment.history_[-1]["train_loss"] < cnn_sentiment.history_[0]["train_loss"]


def test_textcnn_separable_toy_task():
    """Label = which of two marker words the text has; unseen fillers and word orders at test time."""
    from affectkit.analyzers.neural import TextCNNAnalyzer

    fillers = ["the", "a", "today", "again", "my", "our", "with", "and", "so", "very"]
    rng = np.random.default_rng(0)

    def make(marker: str, n: int) -> list[str]:
        out = []
        for _ in range(n):
            words = list(rng.choice(fillers, size=int(rng.integers(0, 6))))
            words.insert(int(rng.integers(0, len(words) + 1)), marker)
            out.append(" ".join(words))
        return out

    texts = make("zorble", 20) + make("quaxo", 20)
    y = ["a"] * 20 + ["b"] * 20
    model = TextCNNAnalyzer(min_count=1, embed_dim=8, filters=4, kernel_sizes=(1, 2, 3), lr=3e-2, dropout=0.0,
                            max_epochs=8, batch_size=16).fit(texts, y)
    test = ["zorble", "quaxo", "our day with zorble so", "very quaxo again today again again"]
    assert list(model.predict(test)) == ["a", "b", "a", "b"]


def test_textcnn_short_texts(cnn_sentiment, cnn_emotion):
    """Texts shorter than the widest kernel (one word, none) are padded inside the network."""
    assert max(cnn_sentiment.kernel_sizes) == 4
    texts = ["", "great", "so bad", "unknownword", "😍", None]
    for model in (cnn_sentiment, cnn_emotion):
        p = model.predict_proba(texts)
        assert p.shape == (len(texts), len(model.labels_)) and np.isfinite(p).all()
        np.testing.assert_allclose(p[0], p[-1])  # None is scored as an empty text
        if not model.tags.multi_label:
            np.testing.assert_allclose(p.sum(axis=1), 1.0)
    single = np.vstack([cnn_sentiment.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(single, cnn_sentiment.predict_proba(texts), atol=1e-7)


def test_textcnn_multi_label(cnn_emotion, tmp_path):
    assert cnn_emotion.thresholds_.shape == (len(cnn_emotion.labels_),)
    proba = cnn_emotion.predict_proba(["I am furious about this"])
    np.testing.assert_array_equal(cnn_emotion.predict(["I am furious about this"]),
                                  (proba >= cnn_emotion.thresholds_).astype(int))
    loaded = affectkit.load(cnn_emotion.save(tmp_path / "e"))
    np.testing.assert_array_equal(loaded.thresholds_, cnn_emotion.thresholds_)
    assert loaded.tags.multi_label


def test_textcnn_save_load_identical(cnn_sentiment, tmp_path):
    path = cnn_sentiment.save(tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    assert config["analyzer"] == "textcnn" and config["params"]["kernel_sizes"] == [2, 3, 4]
    loaded = affectkit.load(path)
    assert type(loaded).__name__ == "TextCNNAnalyzer"
    assert loaded.get_params() == cnn_sentiment.get_params()
    texts = SENTIMENT_TEXTS + ["", "ok", "😍😍", "word " * 300]
    np.testing.assert_array_equal(loaded.predict_proba(texts), cnn_sentiment.predict_proba(texts))


def test_textcnn_predict_without_torch(cnn_sentiment, tmp_path):
    path = cnn_sentiment.save(tmp_path / "m")
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "import affectkit\n"
        f"m = affectkit.load({str(path)!r})\n"
        "p = m.predict_proba(['I love this', '', 'ok'])\n"
        "print(','.join(f'{v:.8f}' for v in p.ravel()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    got = np.array([float(v) for v in out.stdout.strip().split(",")]).reshape(3, 3)
    np.testing.assert_allclose(got, cnn_sentiment.predict_proba(["I love this", "", "ok"]), atol=1e-7)


@pytest.mark.parametrize("kernel_sizes", [(2, 3, 4, 5), (1,), (3, 7)])
def test_textcnn_onnx_equals_torch(kernel_sizes):
    """The exported graph gives the torch forward's logits, for any length; trailing padding is masked."""
    import torch

    from affectkit._runtime import onnx_session
    from affectkit.analyzers.neural import TextCNNAnalyzer, _export

    torch.manual_seed(0)
    net = TextCNNAnalyzer(embed_dim=8, filters=5, kernel_sizes=kernel_sizes)._network(torch, 30, 3).eval()
    sess = onnx_session(_export(torch, net), 1, feature="test")
    rng = np.random.default_rng(0)
    for length in (1, 2, 3, 6, 11):
        ids = rng.integers(1, 30, size=(4, length))
        with torch.no_grad():
            expected = net(torch.tensor(ids)).numpy()
            padded = np.concatenate([ids, np.zeros((4, 9), dtype=ids.dtype)], axis=1)  # as in a training batch
            from_padded = net(torch.tensor(padded), torch.full((4,), length)).numpy()
        got = sess.run(None, {"input_ids": ids.astype(np.int64)})[0]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
        np.testing.assert_allclose(from_padded, expected, rtol=0, atol=1e-6)
    with torch.no_grad():  # an empty text is one padding id: all features 0, logits = the output bias
        empty = sess.run(None, {"input_ids": np.zeros((1, 1), dtype=np.int64)})[0]
        np.testing.assert_allclose(empty[0], net.out.bias.numpy(), atol=1e-6)


def test_textcnn_fit_validates():
    from affectkit.analyzers.neural import TextCNNAnalyzer
    from affectkit.exceptions import InvalidInputError, NotFittedError

    for bad in ((), [0, 2], "3", (2, 2.5)):
        with pytest.raises(InvalidInputError, match="kernel_sizes"):
            TextCNNAnalyzer(kernel_sizes=bad).fit(["a", "b"], ["x", "y"])
    with pytest.raises(InvalidInputError, match="filters"):
        TextCNNAnalyzer(filters=0).fit(["a", "b"], ["x", "y"])
    with pytest.raises(NotFittedError):
        TextCNNAnalyzer().predict_proba(["a"])


def test_train_neural_arch(tmp_path):
    from affectkit.exceptions import InvalidInputError
    from affectkit.train.neural import train_neural

    data = tmp_path / "data.csv"
    rows = ["text,label"] + [f'"{t}",{y}' for t, y in zip(SENTIMENT_TEXTS, SENTIMENT_Y, strict=True)]
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="arch"):
        train_neural(data, tmp_path / "x", arch="gru")
    report = train_neural(data, tmp_path / "m", arch="textcnn", epochs=2,
                          params={"min_count": 1, "embed_dim": 8, "filters": 4})
    assert affectkit.load(report["path"]).kind == "textcnn"
    assert (tmp_path / "m" / "README.md").read_text().startswith("# affectkit TextCNN sentiment model")
