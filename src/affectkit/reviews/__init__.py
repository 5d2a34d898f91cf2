"""Review analytics: clean, score sentiment, emotion and aspects, find topics, summarise, report.

The main entry point is :func:`run_reviews` (``affectkit reviews`` on the command line). Needs
pandas and pyarrow (the ``[reviews]`` extra), plus ``[topics]`` for topics and ``[plot]`` for
the report's plots.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_reviews", "ReviewJob", "clean_review"]


def __getattr__(name: str) -> Any:
    if name in ("run_reviews", "ReviewJob"):
        from affectkit.reviews import pipeline

        return getattr(pipeline, name)
    if name == "clean_review":
        from affectkit.reviews.clean import clean_review

        return clean_review
    raise AttributeError(f"module 'affectkit.reviews' has no attribute {name!r}")
