"""Train the two shipped classic models and write them, with model cards, into the package.

    python scripts/train_classic_defaults.py --data ../shared/data

sentiment-classic-v1: SemEval-2017 Task 4A train pool -> selected on TweetEval-sentiment val.
emotion-classic-v1:   GoEmotions train -> per-label thresholds tuned on GoEmotions dev.
Takes about 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from affectkit.analyzers.classic import ClassicAnalyzer
from affectkit.datasets import load_dataset
from affectkit.evaluation import evaluate
from affectkit.metrics import crossfit_scores, indicator
from affectkit.train.card import write_model_card

MODELS = Path(__file__).resolve().parents[1] / "src" / "affectkit" / "models"
COMMAND = "python scripts/train_classic_defaults.py --data ../shared/data"

SENTIMENT_PARAMS = dict(estimator="logreg", task="sentiment", C=1.0, class_weight="balanced", features={"lexicon": True})
EMOTION_PARAMS = dict(
    estimator="logreg", task="emotion", multi_label=True, C=1.0, class_weight="balanced", weight_dtype="float16",
    features={"max_word_features": 50_000, "max_char_features": 50_000},
)


def train_sentiment(root: Path) -> None:
    train = load_dataset("semeval2017-sentiment:train", root)
    val = load_dataset("tweeteval-sentiment:val", root)
    t0 = time.time()
    model = ClassicAnalyzer(**SENTIMENT_PARAMS).fit(train.texts, train.y)
    print(f"sentiment: fitted on {len(train.texts)} tweets in {time.time() - t0:.0f}s")
    report = evaluate([model], val.texts, val.y, data_name="tweeteval-sentiment:val")
    metrics = report.results[0].metrics
    print("sentiment on tweeteval-sentiment val:", metrics)
    path = model.save(MODELS / "sentiment-classic-v1")
    write_model_card(
        path,
        title="sentiment-classic-v1: TF-IDF + hand features + logistic regression (negative/neutral/positive)",
        data="SemEval-2017 Task 4 Subtask A English train pool (2013-2016, de-duplicated; 47,346 tweets). "
        "Cite: Rosenthal, Farra, Nakov, SemEval-2017 Task 4: Sentiment Analysis in Twitter.",
        metrics={"tweeteval-sentiment val (2,000 tweets)": metrics},
        command=COMMAND,
        licence="Apache-2.0 for the weights' code; trained on SemEval-2017 Task 4 data (research use; cite the task)",
        extra="Features: word 1-2-grams with negation scope, char 2-5-grams, surface cues and VADER scores. "
        "Selected on TweetEval val (C in {0.5, 1, 2}, with/without lexicon features).",
    )


def train_emotion(root: Path) -> None:
    train = load_dataset("goemotions:train", root)
    dev = load_dataset("goemotions:dev", root)
    t0 = time.time()
    model = ClassicAnalyzer(**EMOTION_PARAMS).fit(train.texts, train.y)
    print(f"emotion: fitted on {len(train.texts)} comments in {time.time() - t0:.0f}s")
    # An honest estimate first: tune thresholds on one half of dev, score the other half (2-fold).
    crossfit = crossfit_scores(model.predict_proba(dev.texts), indicator(dev.y, model.labels_))
    model.tune_thresholds(dev.texts, dev.y)
    report = evaluate([model], dev.texts, dev.y, data_name="goemotions:dev")
    metrics = report.results[0].metrics
    print("emotion on goemotions dev (thresholds tuned on dev):", metrics, "2-fold cross-fitted:", crossfit)
    path = model.save(MODELS / "emotion-classic-v1")
    write_model_card(
        path,
        title="emotion-classic-v1: TF-IDF + one-vs-rest logistic regression, 27 GoEmotions emotions + neutral",
        data="GoEmotions train (43,410 Reddit comments; Demszky et al., 2020). Thresholds tuned per label on GoEmotions dev.",
        metrics={
            "goemotions dev, thresholds tuned on dev (optimistic)": metrics,
            "goemotions dev, 2-fold cross-fitted thresholds": crossfit,
        },
        command=COMMAND,
        licence="Apache-2.0; GoEmotions data is Apache-2.0 / CC BY 4.0",
        extra="Weights are stored as float16 (and used at that precision). The Ekman and polarity levels are derived "
        "from the fine labels (affectkit.emotion.taxonomy).",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data directory")
    parser.add_argument("--only", choices=["sentiment", "emotion"], help="train one of the two")
    args = parser.parse_args()
    if args.only in (None, "sentiment"):
        train_sentiment(args.data)
    if args.only in (None, "emotion"):
        train_emotion(args.data)


if __name__ == "__main__":
    main()
