"""The contrast set and the mixed rule, for any sentiment models side by side.

    python benchmarks/contrast.py sentiment lexicon [DIR ...] [--absa-val]

* **Contrast set** (``affectkit/data/contrast.csv``, 217 texts we wrote before scoring any model on
  them: negation, value idioms, concessions, mixed opinions, sarcasm, emoji, plain controls): per
  kind, the share of texts whose verdict (:func:`affectkit.verdicts.verdict`, sentence rules only)
  is the gold label (``mixed`` included); and the 3-class accuracy of the model's own label on the
  187 texts that are not ``mixed``.
* **The five sentences of issue 17** and the seed sentence, with each model's label and verdict.
* ``--absa-val``: the mixed rule's threshold on the ABSA-derived validation sentences
  (``absa-sentences:val`` plus the val sentences whose aspects disagree, labelled mixed): 4-way
  accuracy and mixed precision/recall for each threshold. This is where ``MIXED_MIN`` is chosen.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from importlib.resources import files

import affectkit
from affectkit.verdicts import verdict

FIVE = [
    ("Hard to beat for the price.", "positive"),
    ("I never once regretted it.", "positive"),
    ("Cheap and does the job. For this price I cannot complain.", "positive"),
    ("I wanted to love this phone, but it's just okay.", "neutral"),
    ("The hotel was nothing special, though the staff couldn't have been nicer.", "positive"),
    ("The product works great but delivery was delayed", "mixed"),
]


def contrast_rows() -> list[dict[str, str]]:
    with files("affectkit.data").joinpath("contrast.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def score_contrast(model, rows, mixed_min: float) -> dict[str, float]:
    results = model.analyze([r["text"] for r in rows])
    by_kind: dict[str, list[bool]] = defaultdict(list)
    polar = []
    for r, res in zip(rows, results, strict=True):
        v = verdict(res, mixed_min=mixed_min)
        by_kind[r["kind"]].append(v.label == r["label"])
        by_kind["all"].append(v.label == r["label"])
        if r["label"] != "mixed":
            polar.append(res.label == r["label"])
    out = {k: sum(v) / len(v) for k, v in by_kind.items()}
    out["3-class (no mixed items)"] = sum(polar) / len(polar)
    return out


def absa_val(model) -> None:
    from affectkit.datasets import absa_split, load_absa, load_dataset

    agree = load_dataset("absa-sentences:val")
    texts, gold = list(agree.texts), list(agree.y)
    for domain in ("restaurants", "laptops"):
        rows = load_absa(f"semeval2014-absa:{domain}")
        for r, v in zip(rows, absa_split(len(rows)), strict=True):
            pols = {a[3] for a in r.aspects}
            if v and {"positive", "negative"} <= pols:
                texts.append(r.text)
                gold.append("mixed")
    results = model.analyze(texts)
    print(f"ABSA val sentences: {len(texts)} ({gold.count('mixed')} mixed)")  # noqa: T201
    print("mixed_min  acc(4-way)  mixed P  mixed R")  # noqa: T201
    for t in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 1.01):
        pred = [verdict(r, mixed_min=t).label for r in results]
        acc = sum(p == g for p, g in zip(pred, gold, strict=True)) / len(gold)
        tp = sum(p == g == "mixed" for p, g in zip(pred, gold, strict=True))
        prec = tp / max(1, pred.count("mixed"))
        rec = tp / max(1, gold.count("mixed"))
        print(f"{t:>8.2f}  {acc:>10.3f}  {prec:>7.3f}  {rec:>7.3f}")  # noqa: T201


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="model names or directories")
    parser.add_argument("--absa-val", action="store_true")
    parser.add_argument("--mixed-min", type=float, default=None)
    args = parser.parse_args()
    from affectkit.verdicts import MIXED_MIN

    mixed_min = MIXED_MIN if args.mixed_min is None else args.mixed_min
    rows = contrast_rows()
    table = {}
    for name in args.models:
        model = affectkit.load(name)
        table[name] = score_contrast(model, rows, mixed_min)
        print(f"\n== {name}")  # noqa: T201
        for text, want in FIVE:
            res = model.analyze(text)
            v = verdict(res, mixed_min=mixed_min)
            mark = "ok " if v.label == want else "NO "
            top = ", ".join(f"{k} {p:.2f}" for k, p in res.scores.items())
            print(f"{mark} {text!r}: label {res.label}, verdict {v.label} ({top}); want {want}")  # noqa: T201
        if args.absa_val:
            absa_val(model)
    kinds = list(next(iter(table.values())))
    print(f"\nContrast set ({len(rows)} texts): verdict accuracy per kind (mixed_min {mixed_min})")  # noqa: T201
    print("kind".ljust(26) + "".join(n[-24:].rjust(26) for n in table))  # noqa: T201
    for k in kinds:
        print(k.ljust(26) + "".join(f"{table[n][k]:>26.3f}" for n in table))  # noqa: T201


if __name__ == "__main__":
    main()
