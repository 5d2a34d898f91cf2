"""Shared fixtures: small models trained once per session on text we wrote ourselves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Text written for these tests (not taken from any data set).
POSITIVE = [
    "I love this phone, the screen is gorgeous",
    "What a wonderful day, thank you all!",
    "Great service and friendly staff :)",
    "Best purchase I have made this year",
    "The food was delicious and the view amazing",
    "Absolutely fantastic, would recommend to everyone",
    "So happy with how this turned out 😍",
    "Brilliant performance, I enjoyed every minute",
]
NEGATIVE = [
    "I hate waiting, this delivery is so late",
    "Terrible quality, it broke after a day",
    "The staff were rude and the room was dirty :(",
    "Worst movie I have ever seen",
    "Awful experience, never buying again",
    "This is disappointing and a waste of money",
    "I am so angry about the cancelled flight",
    "Horrible noise all night, could not sleep",
]
NEUTRAL = [
    "The meeting is at three on Tuesday",
    "The package contains a charger and a cable",
    "She moved to Lisbon last spring",
    "The store opens at nine",
    "This model comes in blue and grey",
    "The report has four sections",
    "We took the train to the city",
    "The manual is available online",
]
SENTIMENT_TEXTS = POSITIVE + NEGATIVE + NEUTRAL
SENTIMENT_Y = ["positive"] * 8 + ["negative"] * 8 + ["neutral"] * 8

EMOTION_TEXTS = [
    "Thank you so much for the help!", "Thanks a lot, really kind of you",
    "I am furious about this", "This makes me so angry",
    "I'm scared of what comes next", "That noise frightened me",
    "Haha that is hilarious", "LOL this is so funny",
    "I miss her so much, it hurts", "Feeling sad and lonely tonight",
    "Wow, I did not expect that!", "What a surprise, really?",
    "The bus leaves at noon", "It is a table with four legs",
    "Thank you, that was hilarious", "I'm angry and scared at the same time",
]  # fmt: skip
EMOTION_Y = [
    ("gratitude",), ("gratitude",), ("anger",), ("anger",), ("fear",), ("fear",),
    ("amusement",), ("amusement",), ("sadness",), ("sadness",), ("surprise",), ("surprise",),
    ("neutral",), ("neutral",), ("gratitude", "amusement"), ("anger", "fear"),
]  # fmt: skip

TINY_FEATURES = {"max_word_features": 2000, "max_char_features": 2000, "min_df": 1, "char_ngrams": [2, 4]}


@pytest.fixture(scope="session")
def tiny_models():
    """name -> fitted analyzer, for each estimator, single- and multi-label."""
    from affectkit.analyzers.classic import ClassicAnalyzer

    models = {}
    for est in ("logreg", "svm", "nb", "tree"):
        models[f"tiny-sentiment-{est}"] = ClassicAnalyzer(est, features=TINY_FEATURES).fit(SENTIMENT_TEXTS, SENTIMENT_Y)
        models[f"tiny-emotion-{est}"] = ClassicAnalyzer(
            est, task="emotion", multi_label=True, features=TINY_FEATURES
        ).fit(EMOTION_TEXTS, EMOTION_Y)
    return models


def shared_data_dir() -> Path | None:
    env = os.environ.get("AFFECTKIT_DATA")
    candidates = [Path(env)] if env else []
    root = Path(__file__).resolve().parents[1]
    candidates += [root.parent / "shared" / "data", root / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("../shared/data is not present")
    return d


def build_tiny_base(path: Path, texts: list[str]) -> Path:
    """A tiny random BERT and a WordPiece tokenizer trained on ``texts``, saved like a HF model."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel

    path.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    tok.save(str(path / "tokenizer.json"))
    config = BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, pad_token_id=0,
    )
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_transformer(tmp_path_factory):
    """A tiny two-head transformer: trained for a few steps, exported to ONNX, as a model directory."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("onnx")
    import numpy as np

    from affectkit.labels import EMOTION_LABELS, SENTIMENT_LABELS
    from affectkit.train.export import export_onnx
    from affectkit.train.multitask import TrainConfig, train

    root = tmp_path_factory.mktemp("tiny-transformer")
    base = build_tiny_base(root / "base", SENTIMENT_TEXTS + EMOTION_TEXTS)
    Y = np.zeros((len(EMOTION_TEXTS), len(EMOTION_LABELS)), dtype=np.int64)
    for i, labels in enumerate(EMOTION_Y):
        for lab in labels:
            Y[i, EMOTION_LABELS.index(lab)] = 1
    data = {
        "sent_texts": SENTIMENT_TEXTS, "sent_y": np.array([SENTIMENT_LABELS.index(v) for v in SENTIMENT_Y]),
        "emo_texts": EMOTION_TEXTS, "emo_Y": Y,
        "sent_val_texts": SENTIMENT_TEXTS, "sent_val_y": SENTIMENT_Y,
        "emo_dev_texts": EMOTION_TEXTS, "emo_dev_Y": Y,
    }
    cfg = TrainConfig(out=str(root / "run"), base=str(base), epochs=2, batch_size=8, lr=1e-3, max_length=32,
                      threads=1, log_every=1)
    report = train(cfg, data=data)
    model_dir = export_onnx(root / "run" / "best.pt", base, root / "model", thresholds=report["best"]["thresholds"],
                            max_length=32, metrics={"tiny": True})
    return {"dir": model_dir, "report": report, "base": base, "run": root / "run"}


TINY_BILSTM = {"min_count": 1, "embed_dim": 16, "hidden": 16, "batch_size": 8, "lr": 1e-2, "dropout": 0.0}


@pytest.fixture(scope="session")
def tiny_bilstm():
    """name -> fitted BiLSTM (single-label sentiment, multi-label emotion with tuned thresholds)."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from affectkit.analyzers.neural import BiLSTMAnalyzer

    return {
        "tiny-bilstm-sentiment": BiLSTMAnalyzer(max_epochs=15, **TINY_BILSTM).fit(SENTIMENT_TEXTS, SENTIMENT_Y),
        "tiny-bilstm-emotion": BiLSTMAnalyzer(task="emotion", max_epochs=15, **TINY_BILSTM).fit(
            EMOTION_TEXTS, EMOTION_Y, EMOTION_TEXTS, EMOTION_Y
        ),
    }


TINY_TEXTCNN = {"min_count": 1, "embed_dim": 16, "filters": 8, "kernel_sizes": (2, 3, 4), "batch_size": 8,
                "lr": 1e-2, "dropout": 0.0}


@pytest.fixture(scope="session")
def tiny_textcnn():
    """name -> fitted TextCNN (single-label sentiment, multi-label emotion with tuned thresholds)."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from affectkit.analyzers.neural import TextCNNAnalyzer

    return {
        "tiny-textcnn-sentiment": TextCNNAnalyzer(max_epochs=15, **TINY_TEXTCNN).fit(SENTIMENT_TEXTS, SENTIMENT_Y),
        "tiny-textcnn-emotion": TextCNNAnalyzer(task="emotion", max_epochs=15, **TINY_TEXTCNN).fit(
            EMOTION_TEXTS, EMOTION_Y, EMOTION_TEXTS, EMOTION_Y
        ),
    }
