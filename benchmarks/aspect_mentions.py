"""Opinion-free mentions beside a polar clause: does the aspect model keep them neutral?

    python benchmarks/aspect_mentions.py [shipped] [DIR ...]

``benchmarks/data/aspect_mentions.jsonl`` holds 24 short restaurant and laptop sentences that we
wrote (no dataset text): each names one thing without an opinion on it ("We ordered the menu of
the day") beside a clause with a clear one ("and the dessert was awful"). The aspects are given,
so only polarity is scored: how many neutral mentions stay neutral, and how many polar aspects get
their polarity. The texts were written before any model was scored on them; they are a check of a
known weakness (docs/aspects.md, "Limits seen by hand"), not a set to tune on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data" / "aspect_mentions.jsonl"


def score(path: str | None) -> dict[str, object]:
    from affectkit.aspects.model import AspectModel

    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    given = [[(r["text"].index(a), r["text"].index(a) + len(a)) for a in r["aspects"]] for r in rows]
    passes = AspectModel(path).run([r["text"] for r in rows], given, extract=False)
    right = {"neutral": 0, "polar": 0}
    total = {"neutral": 0, "polar": 0}
    wrong = []
    for r, p, spans in zip(rows, passes, given, strict=True):
        verdicts = {(t.start, t.end): max(t.scores, key=t.scores.get) for t in p.terms}
        for (aspect, gold), span in zip(r["aspects"].items(), spans, strict=True):
            kind = "neutral" if gold == "neutral" else "polar"
            total[kind] += 1
            if verdicts.get(span) == gold:
                right[kind] += 1
            elif kind == "neutral":
                wrong.append(f"{aspect}: {verdicts.get(span)}")
    return {"neutral mentions kept neutral": f"{right['neutral']}/{total['neutral']}",
            "polar aspects right": f"{right['polar']}/{total['polar']}", "neutral mentions missed": wrong}


def main() -> None:
    for arg in sys.argv[1:] or ["shipped"]:
        print(json.dumps({"model": arg, **score(None if arg == "shipped" else arg)}))


if __name__ == "__main__":
    main()
