"""Wall time and peak memory of the review job on a file (the scale benchmark).

    python benchmarks/bench_reviews.py FILE --text-col TEXT [--rating-col R] [--out DIR] [--fast] [--workers N]

Examples:
    python benchmarks/bench_reviews.py "../shared/data/womens-ecommerce-clothing-reviews/Womens Clothing E-Commerce Reviews.csv.zip" \
        --text-col "Review Text" --id-col "Unnamed: 0" --rating-col Rating
    python benchmarks/make_synthetic_reviews.py --rows 100000 --out /tmp/reviews-100k.csv.gz
    python benchmarks/bench_reviews.py /tmp/reviews-100k.csv.gz --text-col text --id-col review_id --rating-col rating --fast

Peak memory is the largest resident set of this process and of its worker processes
(``getrusage``), the same figure ``/usr/bin/time -v`` reports as "Maximum resident set size".
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path


def main() -> None:
    from affectkit.reviews import run_reviews

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", type=Path)
    ap.add_argument("--text-col", required=True)
    ap.add_argument("--id-col")
    ap.add_argument("--rating-col")
    ap.add_argument("--time-col")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--sentiment", default="sentiment")
    ap.add_argument("--emotion", default="emotion")
    ap.add_argument("--no-aspects", action="store_true")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--engine", default="local")
    ap.add_argument("--topic-sample", type=int, default=10_000)
    ap.add_argument("--topic-assign", default="embeddings")
    ap.add_argument("--fast", action="store_true", help="as the CLI's --fast: classic models, --topic-assign tfidf")
    args = ap.parse_args()
    if args.fast:
        args.sentiment, args.emotion, args.topic_assign = "sentiment-classic-v1", "emotion-classic-v1", "tfidf"
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-reviews-"))
    t0 = time.perf_counter()
    job = run_reviews(args.input, args.text_col, out, id_col=args.id_col, rating_col=args.rating_col,
                      time_col=args.time_col, sentiment=args.sentiment, emotion=args.emotion,
                      aspects=not args.no_aspects, workers=args.workers, engine=args.engine,
                      topic_sample=args.topic_sample, topic_assign=args.topic_assign, overwrite=True)
    wall = time.perf_counter() - t0
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    s = job.summary
    agree = (s.get("rating_agreement") or {}).get("agreement")
    print(json.dumps({
        "input": str(args.input), "rows": s["rows"], "scored": s["scored"], "wall_s": round(wall, 1),
        "rows_per_s": round(s["rows"] / wall, 1), "peak_rss_mb": round(peak / 1024),
        "stages_s": s["seconds"], "rating_agreement": agree, "topics": s["topics"], "top_topics": s["top_topics"],
        "flags": s["flags"], "out": str(out),
    }, indent=2))


if __name__ == "__main__":
    main()
