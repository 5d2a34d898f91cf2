"""Build a synthetic review corpus for the scale benchmark from the real clothing reviews.

Each synthetic review copies the shape of a real review picked at random (its star rating and
its number of sentences) and fills it with sentences drawn from other real reviews with the
same rating, so lengths, vocabulary and rating/sentiment agreement stay realistic while no
review is a verbatim copy. Seeded: the same arguments give the same file. The output is data
derived from the source set: write it outside the repository.

    python benchmarks/make_synthetic_reviews.py --data ../shared/data --rows 100000 --out /tmp/reviews-100k.csv.gz
"""

from __future__ import annotations

import argparse
import gzip
import zipfile
from pathlib import Path

import numpy as np


def main() -> None:
    import pandas as pd

    from affectkit.text.segment import split_sentences

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    src = args.data / "womens-ecommerce-clothing-reviews" / "Womens Clothing E-Commerce Reviews.csv.zip"
    with zipfile.ZipFile(src) as zf:
        real = pd.read_csv(zf.open("Womens Clothing E-Commerce Reviews.csv"))
    real = real[real["Review Text"].notna()]
    rng = np.random.default_rng(args.seed)
    pools: dict[int, list[str]] = {}
    shapes = []
    for text, stars in zip(real["Review Text"], real["Rating"], strict=True):
        sents = [s.strip() for s in split_sentences(text)]
        sents = [s for s in sents if s]
        pools.setdefault(int(stars), []).extend(sents)
        shapes.append((int(stars), max(1, len(sents))))
    picks = rng.integers(0, len(shapes), size=args.rows)
    start = np.datetime64("2025-01-01")
    rows = []
    for i, k in enumerate(picks):
        stars, n = shapes[k]
        pool = pools[stars]
        text = " ".join(pool[j] for j in rng.integers(0, len(pool), size=n))
        day = start + np.timedelta64(int(rng.integers(0, 640)), "D")
        rows.append((f"s{i:06d}", str(day), stars, text))
    frame = pd.DataFrame(rows, columns=["review_id", "date", "rating", "text"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if args.out.suffix == ".gz" else open
    with opener(args.out, "wt", encoding="utf-8", newline="") as fh:
        frame.to_csv(fh, index=False)
    lengths = frame["text"].str.len()
    print(f"wrote {len(frame)} reviews to {args.out}: mean {lengths.mean():.0f} chars (real: "
          f"{real['Review Text'].str.len().mean():.0f}), max {lengths.max()}")


if __name__ == "__main__":
    main()
