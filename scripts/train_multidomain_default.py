"""Train, interpolate, export and card the multi-domain default: tweets, movie-review sentences,
review sentences and Reddit comments, one encoder, sentiment and emotion heads.

    python scripts/train_multidomain_default.py --data ../shared/data          # about 75 min on 2 cores
    python scripts/train_multidomain_default.py --run runs/multidomain-v2 --soup-only   # re-pick, no training
    python scripts/train_multidomain_default.py --run runs/multidomain-v2 --export affect-transformer-v2

1. **Fine-tune** from the shipped affect-transformer-v1 (its weights read back from ONNX) with the
   embeddings and layer 0 frozen, so the aspect model, which reads layer 1 of this encoder, keeps its
   input. Sentiment data: SemEval-2017 Task 4A tweets, SST sentences (SST-5 mapped to 3 classes), the
   sentence polarities implied by the SemEval-2014/2016 ABSA train files (aspects that agree), and
   GoEmotions' sentiment level (from its emotions, weight ``goemotions_sentiment``). Every epoch's
   weights are kept.
2. **Interpolate** (WiSE-FT): candidates are v1, each epoch, ``(1 - a) v1 + a epoch`` for a in
   ``ALPHAS`` and the mean of the epochs. Each is scored as in training: half the mean of TweetEval val
   macro-recall, SST-2 dev accuracy (neutral ignored) and ABSA-sentence val macro-recall, half
   GoEmotions dev macro-F1; the best score wins (``soup_report.json``, ``final.pt``). Every set is
   a validation set: the choice is made once, on all of them together.
3. **Export** ``final.pt`` as a shipped model directory with its card (``--export NAME``).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from affectkit.train.multitask import TrainConfig, train

MODELS = Path(__file__).resolve().parents[1] / "src" / "affectkit" / "models"
RECIPE = dict(
    epochs=3, lr=3e-5, head_lr=3e-4, emotion_weight=5.0, batch_size=32, max_length=128, seed=0, freeze=1,
    sentiment_sets=("semeval2017-sentiment:train", "sst:train", "absa-sentences:train"),
    goemotions_sentiment=0.5,
    selection=("tweeteval-sentiment:val", "sst:binary-dev", "absa-sentences:val"),
    keep_epochs=True,
)
ALPHAS = (0.3, 0.5, 0.7)
logger = logging.getLogger("train_multidomain")


def _row(name: str, m: dict) -> dict:
    sel = m.get("selection", {})
    return {"candidate": name, "score": round(m["score"], 4),
            "tweeteval_val_macro_recall": round(m["sentiment"]["macro_recall"], 4),
            **{f"{k}_{'accuracy' if 'binary' in k else 'macro_recall'}":
               round(v["accuracy" if "binary" in k else "macro_recall"], 4) for k, v in sel.items()},
            "goemotions_dev_macro_f1": round(m["emotion"]["macro_f1"], 4),
            "goemotions_dev_macro_f1_crossfit": round(m["emotion_crossfit"]["macro_f1"], 4)}


def soup(run: Path, cfg: TrainConfig) -> dict:
    """Score v1, the epochs, their interpolations with v1 and their mean; keep the best as final.pt."""
    import torch

    from affectkit.train.multitask import (
        _tokenizer,
        _warm_start,
        build_model,
        default_base,
        evaluate_model,
        load_data,
    )
    from affectkit.train.warmstart import interpolate

    base = Path(cfg.base) if cfg.base else default_base()
    tok, data = _tokenizer(base), load_data(cfg)
    model = build_model(base)
    model.eval()
    _warm_start(torch, model, cfg.init)
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    epochs = sorted(run.glob("epoch*.pt"), key=lambda p: int(p.stem[5:]))
    states = {p.stem: torch.load(str(p), map_location="cpu", weights_only=True) for p in epochs}
    candidates = {"v1": lambda: start}
    for name, sd in states.items():
        candidates[name] = lambda sd=sd: sd
        for a in ALPHAS:
            candidates[f"v1*{1 - a:.1f}+{name}*{a:.1f}"] = lambda sd=sd, a=a: interpolate(start, sd, a)
    if len(states) > 1:
        mean = {k: sum(sd[k] for sd in states.values()) / len(states) if v.is_floating_point() else v
                for k, v in next(iter(states.values())).items()}
        candidates["mean(epochs)"] = lambda: mean
    rows, best = [], None
    for name, make in candidates.items():
        sd = make()
        model.load_state_dict(sd)
        metrics = evaluate_model(model, tok, data, cfg.max_length)
        rows.append(_row(name, metrics))
        logger.info("%s", rows[-1])
        if best is None or metrics["score"] > best[1]["score"]:
            best = (name, metrics, sd)
    assert best is not None
    torch.save(best[2], run / "final.pt")
    report = {"picked": best[0], "best": {k: v for k, v in best[1].items()}, "candidates": rows,
              "rule": "highest score (half mean sentiment selection metric, half GoEmotions dev macro-F1)"}
    (run / "soup_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def export(run: Path, name: str, cfg: TrainConfig) -> Path:
    from affectkit.train.card import write_model_card
    from affectkit.train.export import export_onnx
    from affectkit.train.multitask import default_base

    report = json.loads((run / "soup_report.json").read_text())
    best = report["best"]
    base = Path(cfg.base) if cfg.base else default_base()
    sel = best.get("selection", {})
    metrics = {
        "tweeteval-sentiment val": best["sentiment"],
        **{f"{k} (selection)": v for k, v in sel.items()},
        "goemotions dev (thresholds tuned on dev)": best["emotion"],
        "goemotions dev (2-fold cross-fitted thresholds)": best["emotion_crossfit"],
        "picked": report["picked"],
    }
    out = export_onnx(run / "final.pt", base, MODELS / name, thresholds=best["thresholds"],
                      max_length=cfg.max_length, storage="fp16", metrics=metrics, work_dir=run / "onnx")
    train_report = json.loads((run / "train_report.json").read_text())
    write_model_card(
        out,
        title=f"{name}: all-MiniLM-L6-v2 fine-tuned for sentiment (3) and GoEmotions emotion (28) on tweets, "
        "movie-review and product-review sentences, one encoder",
        data="SemEval-2017 Task 4A English train pool (tweets; Rosenthal et al. 2017); SST sentences, SST-5 mapped "
        "to 3 classes (Socher et al. 2013); sentence polarities implied by the SemEval-2014 Task 4 and "
        "SemEval-2016 Task 5 ABSA train files, sentences whose aspects agree, the aspect model's 10% validation "
        "split held out (Pontiki et al. 2014, 2016; the data's copyright stays with SemEval); GoEmotions train "
        "(Demszky et al. 2020, Apache-2.0 / CC BY 4.0) with its sentiment level. Started from "
        "affect-transformer-v1; the candidate kept (v1, epochs, their interpolations with v1) has the best "
        "mean over TweetEval val, SST-2 dev, ABSA-sentence val and GoEmotions dev.",
        metrics=metrics,
        command="python scripts/train_multidomain_default.py --data ../shared/data "
        f"&& python scripts/train_multidomain_default.py --export {name}",
        licence="Apache-2.0 (base model all-MiniLM-L6-v2: Apache-2.0); sentiment data: SemEval terms (research, "
        "cite), SST (cite)",
        extra=f"Candidates: {json.dumps(report['candidates'])}\n\nTraining history: "
        f"{json.dumps(train_report['history'])}\n\n"
        "Inference: onnxruntime + tokenizers (no torch); attention/layer-norm/GELU fused offline; weights stored as "
        "float16 and cast to float32 when the session starts. Texts longer than 128 tokens are split at sentence "
        "ends and aggregated (see affectkit.analyzers.transformer).",
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--run", default="runs/multidomain-v2", help="where checkpoints and reports go")
    parser.add_argument("--init", default=str(MODELS / "affect-transformer-v1"))
    parser.add_argument("--epochs", type=int, default=RECIPE["epochs"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--soup-only", action="store_true", help="skip training; score the run's candidates")
    parser.add_argument("--export", metavar="NAME", default=None, help="skip training; export final.pt as NAME")
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)  # smoke tests
    parser.add_argument("--eval-limit", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--max-steps", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = TrainConfig(out=args.run, data=args.data, init=args.init, threads=args.threads, limit=args.limit,
                      eval_limit=args.eval_limit, max_steps=args.max_steps, **(RECIPE | {"epochs": args.epochs}))
    run = Path(args.run)
    if args.export:
        print(f"wrote {export(run, args.export, cfg)}")  # noqa: T201
        return
    if not args.soup_only:
        train(cfg)
    report = soup(run, cfg)
    print(json.dumps({"picked": report["picked"], "candidates": report["candidates"]}, indent=2))  # noqa: T201


if __name__ == "__main__":
    main()
