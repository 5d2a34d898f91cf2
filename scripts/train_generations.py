"""Train one model of each generation on the same tweets, for the side-by-side table.

    nice -n 10 python scripts/train_generations.py --data ../shared/data --out /work/exp/generations

Trains on SemEval-2017 Task 4A (``semeval2017-sentiment:train``, 47,346 tweets) the classic
estimators svm, nb and tree (logreg is the shipped ``classic`` model), a BiLSTM and a TextCNN,
each into ``<out>/<name>``. TweetEval-sentiment val is the validation data: it drives the neural
models' early stopping (and, for the TextCNN, the choice between a few sizes, by validation
loss) and nothing else. Then prints one table from :func:`affectkit.evaluation.evaluate` on
TweetEval-sentiment val: lexicon, classic, each trained model, the transformer, and the ensembles of
the transformer and classic (equal-weight soft and hard voting: nothing tuned on val).

Training uses one torch thread (the machine is shared); about 20-30 minutes on 2 cores.
The models are experiment outputs, not shipped.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

from affectkit.datasets import load_dataset
from affectkit.evaluation import evaluate
from affectkit.train.classic import train_classic
from affectkit.train.neural import train_neural

CLASSIC = ("svm", "nb", "tree")
# Shared by both neural models; the BiLSTM keeps its defaults otherwise.
NEURAL_COMMON = {"min_count": 2, "batch_size": 64, "lr": 2e-3, "patience": 1}
BILSTM = {"embed_dim": 100, "hidden": 128}
# A light search for the TextCNN, decided by the lowest validation loss (never by test scores).
TEXTCNN_CANDIDATES = [
    {"embed_dim": 100, "filters": 100, "kernel_sizes": (2, 3, 4, 5), "dropout": 0.5},
    {"embed_dim": 200, "filters": 200, "kernel_sizes": (2, 3, 4, 5), "dropout": 0.5},
    {"embed_dim": 100, "filters": 100, "kernel_sizes": (1, 2, 3), "dropout": 0.5},
    {"embed_dim": 100, "filters": 100, "kernel_sizes": (2, 3, 4, 5), "dropout": 0.5, "lr": 1e-3},
]


def write_csv(path: Path, texts: list[str], y: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(zip(texts, y, strict=True))
    return path


def best_val_loss(model_dir: Path) -> float:
    history = json.loads((model_dir / "config.json").read_text(encoding="utf-8")).get("history", [])
    return min(r["val_loss"] for r in history)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="The shared data folder.")
    parser.add_argument("--out", type=Path, default=Path("/work/exp/generations"))
    parser.add_argument("--epochs", type=int, default=6, help="Epoch cap of the neural models (early stopping).")
    parser.add_argument("--skip-existing", action="store_true", help="Keep models already in --out (resume a run).")
    parser.add_argument("--only", default="svm,nb,tree,bilstm,textcnn", help="Which models to train (comma-separated).")
    parser.add_argument("--skip-training", action="store_true", help="Only print the table of the models in --out.")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    out: Path = args.out
    train = load_dataset("semeval2017-sentiment:train", args.data)
    val = load_dataset("tweeteval-sentiment:val", args.data)
    # the training functions read files; these copies stay outside the repository
    train_csv = write_csv(out / "_data" / "train.csv", train.texts, train.y)
    val_csv = write_csv(out / "_data" / "val.csv", val.texts, val.y)
    times: dict[str, float] = {}

    def timed(name: str, fn, **kw) -> None:
        if args.skip_existing and (out / name / "config.json").is_file():
            print(f"{name}: kept from an earlier run")
            return
        t0 = time.perf_counter()
        fn(train_csv, out / name, label_col="label", val=val_csv, log=print, **kw)
        times[name] = time.perf_counter() - t0
        print(f"{name}: trained in {times[name]:.0f} s")

    only = set(args.only.split(",")) if not args.skip_training else set()
    for est in CLASSIC:
        if est in only:
            timed(est, train_classic, estimator=est, features={"lexicon": True})
    if "bilstm" in only:
        timed("bilstm", train_neural, arch="bilstm", epochs=args.epochs, params={**NEURAL_COMMON, **BILSTM})
    if "textcnn" in only:
        losses = {}
        for i, params in enumerate(TEXTCNN_CANDIDATES):
            name = f"textcnn-{i}"
            timed(name, train_neural, arch="textcnn", epochs=args.epochs, params={**NEURAL_COMMON, **params})
            losses[name] = best_val_loss(out / name)
            print(f"{name} {params}: best validation loss {losses[name]:.4f}")
        chosen = min(losses, key=losses.__getitem__)
        (out / "textcnn").unlink(missing_ok=True)
        (out / "textcnn").symlink_to(chosen)
        print(f"textcnn = {chosen} (lowest validation loss)")
        if chosen in times:
            times["textcnn"] = times[chosen]

    trained = [str(out / n) for n in (*CLASSIC, "bilstm", "textcnn") if (out / n / "config.json").is_file()]
    names = ["lexicon", "classic", *trained, "transformer",
             "ensemble:default+classic", "ensemble:default+classic?mode=hard"]
    report = evaluate(names, val.texts, val.y, data_name="tweeteval-sentiment:val")
    print(f"\n### tweeteval-sentiment:val ({len(val.texts)} tweets); trained on semeval2017-sentiment:train\n")
    print("| model | macro_recall | macro_f1 | accuracy | ece | texts/s | train s |")
    print("|---|---|---|---|---|---|---|")
    for r in report.results:
        short = Path(r.name).name
        m = r.metrics
        took = f"{times[short]:.0f}" if short in times else ""
        print(f"| {short} | {m['macro_recall']:.3f} | {m['macro_f1']:.3f} | {m['accuracy']:.3f} | {m['ece']:.3f} | "
              f"{r.texts_per_s:,.0f} | {took} |")


if __name__ == "__main__":
    main()
