"""Ensembles of the shipped sentiment models against the best single model, on TweetEval val.

Members: the transformer (the task default), classic and lexicon. Every subset of 2 or 3
members is scored in every mode:

* ``soft-equal`` and ``hard-equal``: no tuning, scored on all of val (plain).
* ``soft-tuned`` (weights minimising the log loss), ``soft-tuned[mr]`` (weights maximising
  macro-recall), ``hard-tuned`` (macro-recall) and ``stacking``: tuned on val, so scored by 2-fold
  cross-fitting: tune on one stratified half, predict the other, swap, and score the pooled
  predictions. The weights column shows both folds' weights. ``mr_mean`` is the mean
  (and standard deviation) of the cross-fitted macro-recall over ``--repeats`` random splits.

Member probabilities are computed once and cached (``--cache``). Usage::

    python scripts/ensemble_eval.py [--cache /work/exp/ensemble/tweeteval_val_proba.npz] [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

MEMBERS = {"transformer": "sentiment", "classic": "classic", "lexicon": "lexicon"}


def member_probas(texts, cache: Path):
    import affectkit

    labels = list(affectkit.SENTIMENT_LABELS)
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as npz:
            if all(k in npz.files for k in MEMBERS) and npz[next(iter(MEMBERS))].shape[0] == len(texts):
                return {k: npz[k] for k in MEMBERS}
    out = {}
    for key, name in MEMBERS.items():
        model = affectkit.load(name)
        t0 = time.perf_counter()
        p = model.predict_proba(texts)
        print(f"# {key}: predicted {len(texts)} texts in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        out[key] = p[:, [list(model.labels_).index(lab) for lab in labels]]
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **out)
    return out


def scores(gold_idx, proba, labels):
    from affectkit.metrics import score_single

    return score_single([labels[i] for i in gold_idx], [labels[i] for i in proba.argmax(axis=1)], labels)


def crossfit(make, probas, y, seed):
    """Pooled out-of-fold scores of an ensemble tuned on one half and applied to the other."""
    from affectkit.analyzers.ensemble import crossfit_proba

    pooled, _, fitted = crossfit_proba(make(), probas, y, n_splits=2, seed=seed)
    return pooled, [part.weights_ if part.mode != "stacking" else None for part in fitted]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="tweeteval-sentiment:val")
    ap.add_argument("--cache", type=Path, default=Path("/work/exp/ensemble/tweeteval_val_proba.npz"))
    ap.add_argument("--repeats", type=int, default=10, help="random 2-fold splits for mr_mean")
    ap.add_argument("--json", type=Path, default=None, help="also write the table as JSON here")
    args = ap.parse_args(argv)

    import affectkit
    from affectkit.analyzers.ensemble import EnsembleAnalyzer
    from affectkit.datasets import load_dataset

    ds = load_dataset(args.data)
    labels = list(affectkit.SENTIMENT_LABELS)
    gold = np.array([labels.index(v) for v in ds.y])
    y = [labels[i] for i in gold]
    P = member_probas(ds.texts, args.cache)
    objects = {key: affectkit.load(name) for key, name in MEMBERS.items()}

    rows = []
    for key in MEMBERS:
        rows.append({"members": key, "mode": "single", "weights": "-", **scores(gold, P[key], labels), "mr_mean": ""})
    for r in (2, 3):
        for combo in itertools.combinations(MEMBERS, r):
            probas = [P[k] for k in combo]
            names = "+".join(combo)
            for mode in ("soft", "hard"):
                ens = EnsembleAnalyzer([objects[k] for k in combo], mode=mode)
                rows.append({"members": names, "mode": f"{mode}-equal", "weights": "equal",
                             **scores(gold, ens.combine(probas), labels), "mr_mean": ""})
            for mode, objective in (("soft", None), ("soft", "macro_recall"), ("hard", None), ("stacking", None)):
                def make(mode=mode, combo=combo, objective=objective):
                    return EnsembleAnalyzer([objects[k] for k in combo], mode=mode, objective=objective)

                pooled, weights = crossfit(make, probas, y, seed=0)
                reps = [scores(gold, crossfit(make, probas, y, seed=s)[0], labels)["macro_recall"]
                        for s in range(args.repeats)]
                wtext = "learned" if weights[0] is None else " | ".join(
                    "/".join(f"{v:.1f}" for v in w) for w in weights)
                label = "stacking" if mode == "stacking" else f"{mode}-tuned" + ("[mr]" if objective else "")
                rows.append({"members": names, "mode": f"{label} (2-fold)", "weights": wtext,
                             **scores(gold, pooled, labels),
                             "mr_mean": f"{np.mean(reps):.4f}±{np.std(reps):.4f}"})

    head = f"{'members':<28} {'mode':<24} {'weights':<24} {'macro_recall':>12} {'macro_f1':>9} {'accuracy':>9} {'mr_mean(' + str(args.repeats) + ' splits)':>20}"
    print(f"# {args.data}: {len(y)} texts; weights in member order; 2-fold rows are pooled out-of-fold scores")
    print(head)
    print("-" * len(head))
    for row in rows:
        print(f"{row['members']:<28} {row['mode']:<24} {row['weights']:<24} {row['macro_recall']:>12.4f} "
              f"{row['macro_f1']:>9.4f} {row['accuracy']:>9.4f} {row['mr_mean']:>20}")
    best_single = max((r for r in rows if r["mode"] == "single"), key=lambda r: r["macro_recall"])
    best_ens = max((r for r in rows if r["mode"] != "single"), key=lambda r: r["macro_recall"])
    print(f"\nbest single: {best_single['members']} {best_single['macro_recall']:.4f}; "
          f"best ensemble: {best_ens['members']} {best_ens['mode']} {best_ens['macro_recall']:.4f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
