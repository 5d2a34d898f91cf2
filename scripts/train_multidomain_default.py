"""Train, export and card the multi-domain default (affect-transformer-v2): tweets, movie-review
sentences, review sentences and Reddit comments, one encoder, sentiment and emotion heads.

    python scripts/train_multidomain_default.py --data ../shared/data        # about 60 min on 2 cores

Starts from the shipped affect-transformer-v1 (its weights read back from ONNX) with the embeddings
and layer 0 frozen, so the aspect model, which reads layer 1 of this encoder, keeps its input.
Sentiment data: SemEval-2017 Task 4A tweets, SST sentences (SST-5 mapped to 3 classes), the sentence
polarities implied by the SemEval-2014/2016 ABSA train files (aspects that agree), and GoEmotions'
sentiment level (from its emotions, weight ``goemotions_sentiment``). Selection: the mean of
TweetEval val macro-recall, SST-2 dev accuracy and ABSA-sentence val macro-recall (half) and
GoEmotions dev macro-F1 (half).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from affectkit.train.multitask import TrainConfig, train

MODELS = Path(__file__).resolve().parents[1] / "src" / "affectkit" / "models"
RECIPE = dict(
    epochs=3, lr=3e-5, head_lr=3e-4, emotion_weight=5.0, batch_size=32, max_length=128, seed=0, freeze=1,
    sentiment_sets=("semeval2017-sentiment:train", "sst:train", "absa-sentences:train"),
    goemotions_sentiment=0.5,
    selection=("tweeteval-sentiment:val", "sst:binary-dev", "absa-sentences:val"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--run", default="runs/multidomain-v2", help="where checkpoints and reports go")
    parser.add_argument("--init", default=str(MODELS / "affect-transformer-v1"))
    parser.add_argument("--epochs", type=int, default=RECIPE["epochs"])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    recipe = RECIPE | {"epochs": args.epochs}
    train(TrainConfig(out=args.run, data=args.data, init=args.init, threads=args.threads, **recipe))


if __name__ == "__main__":
    main()
