"""Domain adaptation on Amazon product reviews (Blitzer et al. 2007, ``multi-domain-reviews``).

For each target domain: a stratified sample of ``--n`` reviews (seed fixed) is split into
training and validation (``--val-fraction``, stratified); the domain's remaining reviews are
the test set. Compared on the test set (binary: negative / positive):

* ``default``: affectkit's shipped transformer (3 classes; the decision is P(positive) vs
  P(negative), neutral ignored);
* ``adapted``: :func:`affectkit.train.finetune.train_transformer` with ``base="default"``
  (the head starts from the default's negative/positive rows; early stopping on validation);
* ``classic``: :func:`affectkit.train.classic.train_classic` on the same sample (logreg).

Run (about 6-8 minutes per domain on 2 cores)::

    nice -n 10 python scripts/domain_adaptation.py --domains electronics dvd books --out /work/exp/domain-adapt

Writes ``results.json`` in ``--out`` and prints a markdown table. The sample files written
there hold review text: keep them out of the repository.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import time
from pathlib import Path

import numpy as np

LABELS = ("negative", "positive")


def _write(path: Path, texts: list[str], ys: list[str]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(zip(texts, ys, strict=True))
    return path


def _scores(gold: list[str], pred: list[str]) -> dict[str, float]:
    from affectkit.metrics import score_single

    s = score_single(gold, pred, LABELS)
    return {"accuracy": s["accuracy"], "macro_f1": s["macro_f1"]}


def _binary(model, texts: list[str]) -> list[str]:
    P = model.predict_proba(texts)
    labels = list(model.labels_)
    neg, pos = labels.index("negative"), labels.index("positive")
    return ["positive" if p[pos] >= p[neg] else "negative" for p in P]


def run_domain(domain: str, args: argparse.Namespace, default) -> dict:
    from affectkit.datasets import load_dataset
    from affectkit.train.classic import train_classic
    from affectkit.train.finetune import train_transformer

    data = load_dataset(f"multi-domain-reviews:{domain}", args.data)
    rng = np.random.default_rng(args.seed)
    y = np.array(data.y)
    sample, val_idx = [], []
    for lab in LABELS:  # stratified: n/2 of each label, of which val_fraction for validation
        idx = rng.permutation(np.flatnonzero(y == lab))[: args.n // 2]
        k = int(round(len(idx) * args.val_fraction))
        val_idx += list(idx[:k])
        sample += list(idx[k:])
    held = set(sample) | set(val_idx)
    test_idx = [i for i in range(len(y)) if i not in held][: args.test_limit]
    work = Path(args.out) / domain
    work.mkdir(parents=True, exist_ok=True)
    train_csv = _write(work / "train.csv", [data.texts[i] for i in sample], [data.y[i] for i in sample])
    val_csv = _write(work / "val.csv", [data.texts[i] for i in val_idx], [data.y[i] for i in val_idx])
    test_texts, test_y = [data.texts[i] for i in test_idx], [data.y[i] for i in test_idx]
    logging.info("%s: %d train, %d validation, %d test", domain, len(sample), len(val_idx), len(test_idx))
    out: dict = {"domain": domain, "n_train": len(sample), "n_val": len(val_idx), "n_test": len(test_idx)}

    t = time.perf_counter()
    out["default"] = _scores(test_y, _binary(default, test_texts))
    out["default"]["seconds"] = time.perf_counter() - t
    logging.info("%s default: %s", domain, out["default"])

    t = time.perf_counter()
    report = train_transformer(train_csv, work / "adapted", base=args.base, val=val_csv, epochs=args.epochs,
                               lr=args.lr, batch_size=args.batch_size, max_length=args.max_length,
                               patience=args.patience, seed=args.seed, threads=args.threads,
                               max_train_seconds=args.max_train_seconds, log=logging.info)
    train_s = time.perf_counter() - t
    import affectkit

    adapted = affectkit.load(report["path"])
    t = time.perf_counter()
    out["adapted"] = _scores(test_y, _binary(adapted, test_texts))
    out["adapted"].update(seconds=time.perf_counter() - t, train_seconds=train_s, best_epoch=report["best_epoch"],
                          history=report["history"])
    logging.info("%s adapted: %s", domain, {k: v for k, v in out["adapted"].items() if k != "history"})

    if args.classic:
        rep = train_classic(train_csv, work / "classic", val=val_csv, seed=args.seed, log=logging.info)
        classic = affectkit.load(rep["path"])
        out["classic"] = _scores(test_y, _binary(classic, test_texts))
        logging.info("%s classic: %s", domain, out["classic"])
    out["margin"] = {k: out["adapted"][k] - out["default"][k] for k in ("accuracy", "macro_f1")}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--out", default="/work/exp/domain-adapt")
    parser.add_argument("--domains", nargs="+", default=["electronics"])
    parser.add_argument("--n", type=int, default=200, help="sampled reviews per domain (training + validation)")
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--max-train-seconds", type=float, default=420)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--base", default="default",
                        help="base of the adapted model: 'default' or a Hugging Face directory (e.g. plain all-MiniLM-L6-v2)")
    parser.add_argument("--test-limit", type=int, default=None, help="smoke runs: score only the first N test reviews")
    parser.add_argument("--no-classic", dest="classic", action="store_false")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for name in ("onnxruntime", "fusion_base", "fusion_utils", "onnx_model", "onnx_model_bert", "fusion_embedlayer"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import torch

    torch.set_num_threads(args.threads)
    import affectkit

    default = affectkit.load("sentiment-transformer-v1", threads=args.threads)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    results = []
    for domain in args.domains:
        results.append(run_domain(domain, args, default))
        (Path(args.out) / "results.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    lines = ["| domain | model | accuracy | macro-F1 |", "|---|---|---|---|"]
    for r in results:
        for model in ("default", "adapted", "classic"):
            if model in r:
                lines.append(f"| {r['domain']} | {model} | {r[model]['accuracy']:.4f} | {r[model]['macro_f1']:.4f} |")
        lines.append(f"| {r['domain']} | margin (adapted - default) | {r['margin']['accuracy']:+.4f} | "
                     f"{r['margin']['macro_f1']:+.4f} |")
    print("\n".join(lines))  # noqa: T201


if __name__ == "__main__":
    main()
