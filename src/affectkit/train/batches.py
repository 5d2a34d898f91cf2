"""Token batches of the transformer trainers: texts to token ids, length-grouped batches,
padding, and the heads' logits over many sequences."""

from __future__ import annotations

from typing import Any

import numpy as np

from affectkit.text.normalize import normalize_for_transformer

__all__ = ["encode_texts", "length_batches", "collate", "head_logits"]


def encode_texts(tok: Any, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids of each text (normalised as inference does), truncated to ``max_length`` with
    the last (``[SEP]``) token kept: training only, inference segments long texts instead."""
    encs = tok.encode_batch([normalize_for_transformer(t) for t in texts])
    out = []
    for e in encs:
        ids = e.ids
        if len(ids) > max_length:  # training only: keep [CLS] ... [SEP]
            ids = ids[: max_length - 1] + [ids[-1]]
        out.append(ids)
    return out


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Row batches of similar length: shuffle, sort within chunks of 50 batches, shuffle the batches."""
    idx = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(idx), chunk):
        part = idx[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(torch: Any, seqs: list[list[int]], pad_id: int = 0) -> tuple[Any, Any]:
    """``(input_ids, attention_mask)`` tensors of ``seqs``, right-padded with ``pad_id``."""
    width = max(len(s) for s in seqs)
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


def head_logits(torch: Any, model: Any, seqs: list[list[int]], batch_size: int) -> list[np.ndarray]:
    """Each head's logits (float32, one row per sequence) of ``model(input_ids, attention_mask)``
    (a tuple of logits), in eval mode, batches of similar length. No sequences: no arrays."""
    order = np.argsort([len(s) for s in seqs], kind="stable")
    out: list[np.ndarray] = []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            heads = model(*collate(torch, [seqs[i] for i in rows]))
            if not out:
                out = [np.zeros((len(seqs), z.shape[1]), dtype=np.float32) for z in heads]
            for arr, z in zip(out, heads, strict=True):
                arr[rows] = z.float().numpy()
    return out
