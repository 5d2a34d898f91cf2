"""The estimator contract over every kind of analyzer, as scikit-learn's ``check_estimator`` does.

For each kind of model directory (every ``Estimator`` subclass with a ``kind``, found by the
registry the way ``affectkit.load`` finds them):

* ``__init__`` only stores its parameters: ``get_params()`` gives back exactly what was passed;
* reading ``tags`` or ``get_params()`` changes nothing in the object (no model is loaded);
* ``fit`` never changes a constructor parameter (learned state goes to ``name_``);
* ``save(dir)`` writes a directory that ``affectkit.load(dir)`` reads back into the same kind with
  the same parameters and the same scores.

A new kind without a builder here fails ``test_every_kind_is_checked``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import affectkit
from affectkit.base import Estimator
from affectkit.registry import analyzer_class, discover_kinds
from conftest import EMOTION_TEXTS, EMOTION_Y, SENTIMENT_TEXTS, SENTIMENT_Y

TEXTS = ["I really love this!", "This is the worst thing ever :(", "The train leaves at 6pm.", "", "😍😍"]


def _kinds() -> dict[str, type]:
    from affectkit.base import analyzer_kinds

    discover_kinds()
    return analyzer_kinds()


def _tiny_hf(root: Path) -> Path:
    """A random two-layer BERT with NEG/NEU/POS labels, saved like a Hub model."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = sorted({w for t in SENTIMENT_TEXTS for w in t.lower().split()})
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                                cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    torch.manual_seed(0)
    labels = ["NEG", "NEU", "POS"]
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=64,
                                  id2label=dict(enumerate(labels)), label2id={v: k for k, v in enumerate(labels)})
    transformers.BertForSequenceClassification(cfg).save_pretrained(str(root))
    fast.save_pretrained(str(root))
    return root


def _speech_model_ready() -> bool:
    from affectkit.registry import shipped_model_path

    return (shipped_model_path("speech-emotion-v1") / "model.onnx").is_file()


def _build(kind: str, request, tmp_path_factory):
    """A fitted (or ready) estimator of ``kind``, from the session's tiny models."""
    tiny = request.getfixturevalue("tiny_models")
    if kind == "lexicon":
        return affectkit.load("lexicon")
    if kind == "classic":
        return tiny["tiny-sentiment-logreg"]
    if kind == "transformer":
        return affectkit.load(request.getfixturevalue("tiny_transformer")["dir"], head="sentiment")
    if kind == "lexicon-nrc":
        pytest.importorskip("nrclex")
        return affectkit.load("nrc", accept_terms=True)
    if kind == "bilstm":
        return request.getfixturevalue("tiny_bilstm")["tiny-bilstm-sentiment"]
    if kind == "textcnn":
        return request.getfixturevalue("tiny_textcnn")["tiny-textcnn-sentiment"]
    if kind == "calibrated":
        from affectkit.calibration import calibrate

        return calibrate(tiny["tiny-sentiment-logreg"], SENTIMENT_TEXTS, SENTIMENT_Y)
    if kind == "ensemble":
        from affectkit.analyzers.ensemble import EnsembleAnalyzer

        members = [tiny["tiny-sentiment-logreg"], tiny["tiny-sentiment-nb"]]
        return EnsembleAnalyzer(members, grid_step=0.5).fit(SENTIMENT_TEXTS, SENTIMENT_Y)
    if kind == "hf":
        return affectkit.load(f"hf:{_tiny_hf(tmp_path_factory.mktemp('hf'))}")
    if kind in ("speech", "speech-text"):
        pytest.importorskip("soundfile")
        pytest.importorskip("librosa")
        if not _speech_model_ready():
            pytest.skip("the speech model is not built")
        from affectkit.audio.analyzer import SpeechEmotionAnalyzer, SpeechTextEmotionAnalyzer

        if kind == "speech":
            return SpeechEmotionAnalyzer(batch_size=8)
        return SpeechTextEmotionAnalyzer(text=tiny["tiny-emotion-logreg"], asr=False)
    if kind == "text-emotion-7":
        from affectkit.audio.analyzer import TextEmotionBranch

        return TextEmotionBranch(model=tiny["tiny-emotion-logreg"])
    raise AssertionError(f"no builder for kind {kind!r}: add one to {__file__}")


KINDS = ["lexicon", "classic", "transformer", "lexicon-nrc", "bilstm", "textcnn", "calibrated", "ensemble", "hf",
         "speech", "speech-text", "text-emotion-7"]


def test_every_kind_is_checked():
    assert set(_kinds()) == set(KINDS)


def test_every_kind_is_found_by_name():
    for kind in KINDS:
        cls = analyzer_class(kind)
        assert issubclass(cls, Estimator) and cls.kind == kind


def test_a_second_class_cannot_take_a_kind():
    with pytest.raises(TypeError, match="already taken"):
        type("Impostor", (Estimator,), {"kind": "lexicon", "__module__": "somewhere.else"})


@pytest.fixture(scope="module", params=KINDS)
def estimator(request, tmp_path_factory):
    return _build(request.param, request, tmp_path_factory)


def _state(obj) -> dict[str, int]:
    return {k: id(v) for k, v in vars(obj).items()}


def _sample(est):
    """Input the estimator reads: texts, or (audio, text) pairs / recordings for speech."""
    if "audio" not in est.tags.modalities:
        return TEXTS
    t = np.arange(16_000 * 2) / 16_000
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    from affectkit.audio.io import Audio

    audio = Audio(samples=tone)
    return [(audio, "what a lovely day")] if "text" in est.tags.modalities else [audio]


def test_init_only_stores_parameters(estimator):
    params = estimator.get_params()
    clone = type(estimator)(**params)
    again = clone.get_params()
    assert again.keys() == params.keys()
    for name, value in params.items():
        assert again[name] is value, f"{type(estimator).__name__}.__init__ changed {name!r}"


def test_reading_tags_and_params_has_no_side_effects(estimator):
    for obj in (estimator, type(estimator)(**estimator.get_params())):
        before = _state(obj)
        tags, params = obj.tags, obj.get_params()
        assert _state(obj) == before, f"reading tags/get_params changed {type(obj).__name__}'s state"
        assert obj.tags == tags and obj.get_params().keys() == params.keys()


def test_unloaded_wrappers_know_their_tags_without_loading():
    from affectkit.analyzers.calibrated import CalibratedAnalyzer
    from affectkit.analyzers.ensemble import EnsembleAnalyzer

    ens = EnsembleAnalyzer(["emotion-classic", "emotion-transformer"])
    assert ens.tags.task == "emotion" and ens.tags.multi_label
    assert not hasattr(ens, "members_")
    cal = CalibratedAnalyzer(base="sentiment-classic")
    assert cal.tags.task == "sentiment" and not cal.tags.multi_label
    assert "_base_cached" not in vars(cal)
    transformer = affectkit.load("emotion")
    assert transformer.tags.multi_label and "_bb_cached" not in vars(transformer)


def _fit_data(est):
    if est.tags.multi_label:
        return EMOTION_TEXTS, EMOTION_Y
    return SENTIMENT_TEXTS, SENTIMENT_Y


def test_fit_never_changes_a_parameter(estimator):
    if not hasattr(estimator, "fit") or "audio" in estimator.tags.modalities:
        pytest.skip(f"{type(estimator).__name__} has no fit")
    clone = type(estimator)(**estimator.get_params())
    before = {k: repr(v) for k, v in clone.get_params().items()}
    texts, y = _fit_data(clone)
    clone.fit(texts, y)
    after = {k: repr(v) for k, v in clone.get_params().items()}
    assert after == before


def test_saves_and_loads_back(estimator, tmp_path):
    estimator.save(tmp_path / "m")
    # the NRC lexicon's terms are accepted by each user, never stored with a model
    loaded = affectkit.load(tmp_path / "m", **({"accept_terms": True} if estimator.kind == "lexicon-nrc" else {}))
    assert type(loaded) is type(estimator)
    assert loaded.get_params().keys() == estimator.get_params().keys()
    assert loaded.labels_ == estimator.labels_ and loaded.tags.task == estimator.tags.task
    sample = _sample(estimator)
    np.testing.assert_allclose(loaded.predict_proba(sample), estimator.predict_proba(sample), atol=1e-5)
