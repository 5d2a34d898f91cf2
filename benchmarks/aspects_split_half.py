"""Split-half figures for choosing among aspect models on the validation split.

    python benchmarks/aspects_split_half.py NAME=DIR [NAME=DIR ...]

Each DIR is an aspect model directory (``affectkit train --arch aspect ...``; the shipped one is
``src/affectkit/models/aspect-transformer-v1``). On ``semeval2014-absa:restaurants-val`` and
``:laptops-val`` it prints each model's extraction F1 and polarity accuracy (gold terms), then
the honest figure for picking the best of them on these numbers: the sentences are cut into two
halves (seed 1); the model with the best mean of extraction F1 and polarity accuracy over both
domains on one half is scored on the other half, and the two held-out scores are pooled.
"""

from __future__ import annotations

import json
import sys

import numpy as np

DOMAINS = ("restaurants", "laptops")
POLAR = ("negative", "neutral", "positive")


class _Gold:
    def __init__(self, sentences):
        self.spans = {s.text: [(a[1], a[2]) for a in s.aspects] for s in sentences}

    def extract(self, text):
        return self.spans.get(text, [])


def per_sentence(path: str, sentences) -> list[tuple[int, int, int, int, int]]:
    """(tp, fp, fn, polar terms right, polar terms) per sentence."""
    from affectkit.aspects import AspectAnalyzer

    texts = [s.text for s in sentences]
    found = AspectAnalyzer("sentiment", method="model", aspect_model=path).analyze(texts, clause_scores=False)
    judged = AspectAnalyzer("sentiment", extractor=_Gold(sentences), method="model",
                            aspect_model=path).analyze(texts, clause_scores=False)
    rows = []
    for s, f, j in zip(sentences, found, judged, strict=True):
        gold = {(a[1], a[2]) for a in s.aspects}
        pred = {(v.start, v.end) for v in f.aspects if v.start is not None}
        pol = {(v.start, v.end): v.polarity for v in j.aspects}
        polar = [a for a in s.aspects if a[3] in POLAR]
        right = sum(pol.get((a[1], a[2])) == a[3] for a in polar)
        rows.append((len(gold & pred), len(pred - gold), len(gold - pred), right, len(polar)))
    return rows


def scores(rows: np.ndarray) -> tuple[float, float]:
    tp, fp, fn, right, n = rows.sum(0)
    return 2 * tp / max(2 * tp + fp + fn, 1), right / max(n, 1)


def main() -> None:
    from affectkit.datasets import load_absa

    models = dict(arg.split("=", 1) for arg in sys.argv[1:])
    data = {d: load_absa(f"semeval2014-absa:{d}-val") for d in DOMAINS}
    table = {m: {d: np.array(per_sentence(p, data[d])) for d in DOMAINS} for m, p in models.items()}
    out: dict = {"models": {m: {d: dict(zip(("extraction_f1", "polarity_accuracy"), scores(t[d]), strict=True))
                                for d in DOMAINS} for m, t in table.items()}}
    halves = {d: np.random.default_rng(1).permutation(len(data[d])) % 2 for d in DOMAINS}

    def mean_score(m: str, half: int) -> float:
        return float(np.mean([sum(scores(table[m][d][halves[d] == half])) for d in DOMAINS]))

    held: dict = {d: [] for d in DOMAINS}
    picked = []
    for half in (0, 1):
        best = max(models, key=lambda m, h=half: mean_score(m, h))
        picked.append(best)
        for d in DOMAINS:
            held[d].append(table[best][d][halves[d] != half])
    out["picked on each half"] = picked
    out["split-half (picked on one half, scored on the other)"] = {
        d: dict(zip(("extraction_f1", "polarity_accuracy"), scores(np.concatenate(held[d])), strict=True)) for d in DOMAINS}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
