"""Reading review files and cleaning review text: every record kept, problems flagged."""

from __future__ import annotations

import gzip
import json
import os
import zipfile

import pytest

from affectkit.exceptions import InvalidInputError
from affectkit.reviews.clean import LONG_TEXT, clean_review, detect_language
from affectkit.reviews.io import read_reviews

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")


@pytest.mark.parametrize(
    ("raw", "text", "flags"),
    [
        (None, None, ["missing"]),
        (float("nan"), None, ["missing"]),
        ("", None, ["empty"]),
        ("   \n\t ", None, ["empty"]),
        ("<br/>", None, ["empty"]),
        ("Great kettle!<br/>Boils fast &amp; quiet.", "Great kettle! Boils fast & quiet.", []),
        ("see https://example.com/x?y=1 for the photo", "see for the photo", []),
        ("😍😍👍", "😍😍👍", []),
        ("bad \ufffd byte here but it works", "bad \ufffd byte here but it works", ["encoding"]),
        ("zero\u200bwidth  and   spaces", "zerowidth and spaces", []),
    ],
)
def test_clean_review(raw, text, flags):
    got = clean_review(raw)
    assert got.text == text
    assert got.flags == flags


def test_clean_flags_long_and_foreign_text_but_keeps_it():
    long = clean_review("It works well. " * (LONG_TEXT // 10))
    assert "long" in long.flags and len(long.text) > LONG_TEXT  # never truncated
    french = clean_review("La bouilloire est très jolie mais elle fait beaucoup de bruit le matin.")
    assert french.flags == ["not_english"] and french.language == "fr"
    assert detect_language("The lid is a bit stiff but it works") == "en"
    assert detect_language("Great kettle! Boils fast, quiet.") == "und"  # no evidence: not flagged
    assert detect_language("Отличный чайник, очень тихий") == "other"
    assert detect_language("!!!") == "und"
    assert clean_review(42).text == "42"


def _frame():
    return pd.DataFrame({"id": [1, 2, 3], "text": ["good", None, "bad"], "stars": [5, 3, 1]})


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl", "parquet", "csv.gz", "csv.zip"])
def test_read_every_format(tmp_path, kind):
    df = _frame()
    base = kind.split(".")[0]
    plain = tmp_path / f"r.{base}"
    if base == "csv":
        df.to_csv(plain, index=False)
    elif base == "tsv":
        df.to_csv(plain, index=False, sep="\t")
    elif base == "jsonl":
        df.to_json(plain, orient="records", lines=True)
    else:
        df.to_parquet(plain, index=False)
    path = plain
    if kind.endswith(".gz"):
        path = tmp_path / f"r.{kind}"
        path.write_bytes(gzip.compress(plain.read_bytes()))
    elif kind.endswith(".zip"):
        path = tmp_path / f"r.{kind}"
        with zipfile.ZipFile(path, "w") as zf:
            zf.write(plain, "inner/r.csv")
            zf.writestr("__MACOSX/._r.csv", b"junk")  # macOS metadata is ignored
    got = read_reviews(path, text_col="text")
    assert len(got.frame) == 3
    assert got.frame["text"].iloc[0] == "good" and got.frame["text"].iloc[2] == "bad"
    assert pd.isna(got.frame["text"].iloc[1])
    assert list(got.frame["stars"].astype(int)) == [5, 3, 1]


def test_broken_utf8_rows_are_kept_and_flagged(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"id,text\n1,fine\n2,caf\xe9 was nice\n3,also fine\n")
    got = read_reviews(path)
    assert len(got.frame) == 3
    assert got.row_flags == {1: ["encoding"]}
    assert "\ufffd" in got.frame["text"].iloc[1]


def test_bad_json_line_becomes_a_flagged_row(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"text": "ok"}) + "\n{not json\n" + json.dumps({"text": "fine"}) + "\n")
    got = read_reviews(path)
    assert len(got.frame) == 3
    assert got.row_flags == {1: ["unparseable"]}
    assert got.frame["text"].iloc[2] == "fine"


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("r.xlsx", b"x", "Cannot tell the format"),
        ("r.csv", b"", "empty"),
        ("r.csv.gz", b"not gzip", "gzip"),
        ("r.zip", b"not a zip", "zip"),
    ],
)
def test_unreadable_files_give_clear_errors(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInputError, match=match):
        read_reviews(path)


def test_zip_with_two_files_names_them(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.csv", "text\nx\n")
        zf.writestr("b.csv", "text\ny\n")
    with pytest.raises(InvalidInputError, match=r"exactly one data file.*a\.csv"):
        read_reviews(path)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_reviews(tmp_path / "nope.csv")


def test_topics_on_texts_without_words_are_skipped_with_a_note():
    pytest.importorskip("bertopic")
    import numpy as np

    from affectkit.reviews.topics import MIN_DOCS, fit_topics

    n = max(MIN_DOCS, 60)
    docs = ["and the of it" if i % 2 else "2 3 / 4" for i in range(n)]  # no word left to describe a topic
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 384))
    emb = np.asarray([centers[i % 3] + 0.01 * rng.normal(size=384) for i in range(n)], dtype=np.float32)
    result, others = fit_topics(docs, emb, ["the"])
    assert (result.assignments == -1).all() and others.tolist() == [-1]
    assert any("topics skipped" in note for note in result.notes)


def test_top_aspects_ties_keep_text_order_whatever_the_hash_seed():
    """Aspects counted once per review; ties in the count are ordered by first mention, not by set order."""
    import subprocess
    import sys

    code = (
        "import json, numpy as np, pandas as pd\n"
        "from affectkit.reviews.topics import TopicResult, summarize_topics\n"
        "cells = [json.dumps([{'aspect': w} for w in ws]) for ws in"
        " (['lid', 'handle', 'Lid', 'spout', 'base', 'cord', 'filter'], ['switch', 'light', 'plug'])]\n"
        "frame = pd.DataFrame({'topic': [0, 0], 'sentiment': ['positive', 'negative'], 'aspects': cells})\n"
        "result = TopicResult(np.zeros(2, dtype=np.int64), {0: ['kettle']})\n"
        "print(summarize_topics(frame, result).loc[0, 'top_aspects'])\n"
    )
    got = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout.strip() for seed in (1, 2, 3)}
    assert got == {"lid;handle;spout;base;cord"}


def test_first_stages_read_clean_and_plan_without_models(tmp_path):
    import numpy as np

    from affectkit.reviews.pipeline import plan_topics, rating_sentiment, read_and_clean

    path = tmp_path / "r.csv"
    path.write_text("id,text,sentiment,stars\n1,Great kettle.,x,5\n2,,y,3\n3,<b>Loud</b> blender,z,1\n", encoding="utf-8")
    cleaned = read_and_clean(path, text_col="text", format=None, shown="r.csv", id_col="id",
                             columns={"text_col": "text", "id_col": "id"})
    assert cleaned.n == 3 and cleaned.texts == ["Great kettle.", None, "Loud blender"]
    assert cleaned.flags[1] == ["missing"] and cleaned.renamed == {"sentiment": "input_sentiment"}
    plan = plan_topics(cleaned.texts, topics=True, sample_size=1, assign="tfidf", seed=0)
    assert plan.eligible.tolist() == [0, 2] and len(plan.sample) == 1 and plan.embed.sum() == 1
    none = plan_topics(cleaned.texts, topics=False, sample_size=1, assign="tfidf", seed=0)
    assert none.assign is None and not none.embed.any() and len(none.sample) == 0
    assert rating_sentiment(pd.Series([5, 3, 1, np.nan, "x"])).tolist() == ["positive", "neutral", "negative", None, None]
    with pytest.raises(InvalidInputError, match="'time_col' column 'when'"):
        read_and_clean(path, text_col="text", format=None, shown="r.csv", id_col=None, columns={"time_col": "when"})


def test_top_aspects_carry_their_mentions_and_main_polarity():
    import numpy as np

    from affectkit.reviews.topics import TopicResult, summarize_topics

    cells = [json.dumps([{"aspect": "fit", "polarity": p}]) for p in ("negative", "negative", "negative", "positive")]
    frame = pd.DataFrame({"topic": [0] * 4, "sentiment": ["negative"] * 4, "aspects": cells})
    table = summarize_topics(frame, TopicResult(np.zeros(4, dtype=np.int64), {0: ["dress"]}))
    assert table.loc[0, "top_aspects"] == "fit (4, 75% negative)"


def test_review_scorer_reads_sentiment_emotion_and_aspects_from_one_pass():
    import numpy as np

    import affectkit
    from affectkit.reviews.score import ReviewScorer, ScorerSpec

    texts = ["The fabric is lovely but the zipper broke.", "Love it!", None, "Runs small. " * 60]
    scorer = ReviewScorer(ScorerSpec(embed=False))
    assert scorer.aspects.uses_model()
    out = scorer(pd.DataFrame({"row": range(4), "text": texts, "embed": [False] * 4}))
    live = [t for t in texts if t]
    ref = affectkit.load("sentiment").predict_all(live)
    got = out.loc[[0, 1, 3], [f"sentiment_{k}" for k in ("negative", "neutral", "positive")]]
    np.testing.assert_allclose(got.to_numpy(dtype=float), ref["sentiment"], atol=1e-6)
    first = json.loads(out.loc[0, "aspects"])
    assert {a["aspect"]: a["polarity"] for a in first} == {"fabric": "positive", "zipper": "negative"}
    assert pd.isna(out.loc[2, "aspects"]) and out.loc[3, "n_aspects"] >= 1
