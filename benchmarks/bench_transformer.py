"""Accuracy and speed of the default transformer against a plain HF pipeline, classic and VADER.

    python benchmarks/bench_transformer.py --data ../shared/data [--hf runs/multitask-v1/hf]

Prints one Markdown table: macro-recall on TweetEval-sentiment val, macro-F1 on GoEmotions
dev (with the model's stored thresholds), and throughput in tweets/s on TweetEval val texts
at batch sizes 1 and 64, with 2 threads, plus cold-load time. "both" rows score sentiment and
emotion together from one encoder pass. The HF row runs the same encoder weights through a
plain `transformers.pipeline("feature-extraction")` in PyTorch, then the same mean pooling and
heads in numpy.
The HF rows need the PyTorch form of the same weights, written by a training run
(`python scripts/train_transformer_defaults.py`); without it they are skipped.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

THREADS = 2


def rate(fn, texts, batch_size: int, seconds: float) -> float:
    done, t0 = 0, time.perf_counter()
    i = 0
    while time.perf_counter() - t0 < seconds:
        chunk = texts[i : i + batch_size] or texts[:batch_size]
        i = (i + batch_size) % len(texts)
        fn(chunk)
        done += len(chunk)
    return done / (time.perf_counter() - t0)


def cold_load(spec: str) -> float:
    code = f"import time; t=time.perf_counter(); import affectkit; m=affectkit.load({spec!r}); m.predict_proba(['warm up']); print(time.perf_counter()-t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", default="sentiment", help="our default (name or directory)")
    parser.add_argument("--hf", type=Path, default=Path("runs/multitask-v1/hf"))
    parser.add_argument("--seconds", type=float, default=4.0, help="time per throughput measurement")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))

    import affectkit
    from affectkit.datasets import load_dataset
    from affectkit.labels import EMOTION_LABELS, SENTIMENT_LABELS
    from affectkit.metrics import indicator, score_multi, score_single

    sval = load_dataset("tweeteval-sentiment:val", args.data)
    edev = load_dataset("goemotions:dev", args.data)
    Y = indicator(edev.y, EMOTION_LABELS)
    texts = sval.texts
    rows = []

    def sent_metric(proba):
        return score_single(sval.y, [SENTIMENT_LABELS[i] for i in proba.argmax(1)], SENTIMENT_LABELS)["macro_recall"]

    def emo_metric(proba, thresholds):
        return score_multi(Y, (proba >= thresholds).astype(int))[0]["macro_f1"]

    # -- ours (ONNX) ------------------------------------------------------------------------
    sent = affectkit.load(args.model, threads=THREADS)
    emo = affectkit.load(args.model, head="emotion", threads=THREADS) if sent.tags.generation == "transformer" else None
    mr = sent_metric(sent.predict_proba(sval.texts))
    f1 = emo_metric(emo.predict_proba(edev.texts), emo.thresholds_) if emo else float("nan")
    cold = cold_load(args.model)
    rows.append(("affectkit default (ONNX), sentiment", mr, None, rate(sent.predict_proba, texts, 1, args.seconds),
                 rate(sent.predict_proba, texts, 64, args.seconds), cold))
    if emo:
        rows.append(("affectkit default (ONNX), both heads, one pass", mr, f1, rate(sent.predict_all, texts, 1, args.seconds),
                     rate(sent.predict_all, texts, 64, args.seconds), cold))

    # -- the same weights through a plain HF pipeline ------------------------------------------
    hf_note = ""
    if (args.hf / "encoder").is_dir():
        import torch
        from transformers import pipeline

        from affectkit.text.normalize import normalize_for_transformer

        torch.set_num_threads(THREADS)
        fe = pipeline("feature-extraction", model=str(args.hf / "encoder"), device="cpu")
        heads = np.load(args.hf / "heads.npz")

        def hf_both(batch, bs=64):
            # the plain pipeline runs the encoder in PyTorch; mean pooling and the two heads as in the model
            outs = fe([normalize_for_transformer(t) for t in batch], batch_size=bs, truncation=True,
                      return_tensors=True)
            pooled = np.stack([o[0].numpy().mean(axis=0) for o in outs])
            s = pooled @ heads["sentiment_W"].T + heads["sentiment_b"]
            e = pooled @ heads["emotion_W"].T + heads["emotion_b"]
            return np.exp(s) / np.exp(s).sum(1, keepdims=True), 1 / (1 + np.exp(-e))

        hmr = sent_metric(hf_both(sval.texts)[0])
        hf1 = emo_metric(hf_both(edev.texts)[1], emo.thresholds_) if emo else float("nan")
        r1 = rate(lambda b: hf_both(b, bs=1), texts, 1, args.seconds)
        r64 = rate(lambda b: hf_both(b, bs=64), texts, 64, args.seconds)
        rows.append(("HF feature-extraction pipeline (PyTorch), both heads", hmr, hf1, r1, r64, None))
    else:
        hf_note = f"(HF pipeline rows skipped: no PyTorch weights at {args.hf}; a training run writes them)"

    # -- the older generations ------------------------------------------------------------------
    for name in ("classic", "lexicon"):
        m = affectkit.load(name)
        rows.append((f"{name} ({m.tags.generation})", sent_metric(m.predict_proba(sval.texts)), None,
                     rate(m.predict_proba, texts, 1, args.seconds), rate(m.predict_proba, texts, 64, args.seconds),
                     cold_load(name)))
    ce = affectkit.load("emotion-classic")
    rows.append(("emotion-classic", None, emo_metric(ce.predict_proba(edev.texts), ce.thresholds_),
                 rate(ce.predict_proba, texts, 1, args.seconds), rate(ce.predict_proba, texts, 64, args.seconds),
                 cold_load("emotion-classic")))

    def fmt(v, spec):
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)

    print(f"\nTweetEval-sentiment val ({len(sval.texts)} tweets), GoEmotions dev ({len(edev.texts)}), {THREADS} threads\n")
    print("| model | sentiment macro-recall | emotion macro-F1 | texts/s b=1 | texts/s b=64 | cold load s |")
    print("|---|---|---|---|---|---|")
    for name, a, b, r1, r64, c in rows:
        print(f"| {name} | {fmt(a, '.4f')} | {fmt(b, '.4f')} | {fmt(r1, ',.0f')} | {fmt(r64, ',.0f')} | {fmt(c, '.2f')} |")
    if hf_note:
        print("\n" + hf_note)
    by = {r[0]: r for r in rows}
    ours = by.get("affectkit default (ONNX), both heads, one pass")
    hf = by.get("HF feature-extraction pipeline (PyTorch), both heads")
    if ours and hf:
        print(f"\nspeed-up, both heads: {ours[4] / hf[4]:.1f}x the HF pipeline at batch 64, "
              f"{ours[4] / hf[3]:.1f}x the pipeline's default batch size 1")


if __name__ == "__main__":
    main()
