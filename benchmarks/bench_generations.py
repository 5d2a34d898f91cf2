"""Accuracy and speed of every shipped generation on the shared validation splits.

    python benchmarks/bench_generations.py --data ../shared/data

Prints one Markdown table per task: the `evaluate` metrics, texts/s at batch sizes 1 and
256 (2 cores, this process) and the peak RSS while predicting. The same numbers come from
`affectkit evaluate --data tweeteval-sentiment:val --models lexicon,classic`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import affectkit
from affectkit.datasets import load_dataset
from affectkit.evaluation import evaluate

TASKS = {
    "sentiment": ("tweeteval-sentiment:val", ["lexicon", "classic"]),
    "emotion": ("goemotions:dev", ["emotion-classic"]),
}


def throughput(model, texts, batch_size: int, seconds: float = 3.0) -> float:
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        start = done % len(texts)
        chunk = texts[start : start + batch_size] or texts[:batch_size]
        model.predict_proba(chunk)
        done += len(chunk)
    return done / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    for task, (spec, names) in TASKS.items():
        ds = load_dataset(spec, args.data)
        report = evaluate(names, ds.texts, ds.y, data_name=spec)
        metrics = report.metric_names
        print(f"\n### {task}: {spec} ({len(ds.texts)} texts)\n")
        print("| model | " + " | ".join(metrics) + " | texts/s b=1 | texts/s b=256 | peak RSS MB | load s |")
        print("|---" * (len(metrics) + 5) + "|")
        for r in report.results:
            model = affectkit.load(r.name)
            b1 = throughput(model, ds.texts, 1)
            b256 = throughput(model, ds.texts, 256)
            cells = [f"{r.metrics[m]:.4f}" for m in metrics]
            print(f"| {r.name} | " + " | ".join(cells) + f" | {b1:,.0f} | {b256:,.0f} | {r.peak_rss_mb or 0:,.0f} | {r.load_s:.2f} |")


if __name__ == "__main__":
    main()
