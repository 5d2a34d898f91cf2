"""Request and response schemas of the HTTP service (the OpenAPI contract)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Task = Literal["sentiment", "emotion", "aspects"]
AspectTerm = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"\S")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TextsRequest(_Strict):
    texts: list[str | None] = Field(
        ..., description="Texts to analyze, one result each, in order. null is a missing value (an empty result).",
        examples=[["The product works great but delivery was delayed"]],
    )
    explain: bool = Field(False, description="Add per-token contributions (occlusion) to each result.")


_ABSTAIN = ("Answer 'mixed' (abstained: true) instead of a forced label when the two most likely sentiments are "
            "closer than this margin in probability; null always picks the top label.")


class SentimentRequest(TextsRequest):
    abstain: float | None = Field(None, ge=0.0, le=1.0, description=_ABSTAIN, examples=[0.2])


class AspectsRequest(_Strict):
    texts: list[str | None] = Field(..., examples=[["The product works great but delivery was delayed"]])
    aspects: list[AspectTerm] | None = Field(
        None, max_length=50,
        description="Aspect terms or categories to judge (e.g. price, quality, shipping); skips extraction.",
    )


class AnalyzeRequest(_Strict):
    texts: list[str | None] = Field(..., examples=[["Lovely staff, but the room was tiny."]])
    tasks: list[Task] = Field(["sentiment", "emotion", "aspects"], description="Analyses to run on every text.")
    aspects: list[AspectTerm] | None = Field(None, max_length=50,
                                             description="Aspect terms to judge (default: extracted).")
    explain: bool = Field(False, description="Token contributions for the sentiment and emotion results.")
    abstain: float | None = Field(None, ge=0.0, le=1.0, description=_ABSTAIN + " Applies to the sentiment results.")


class LevelOut(BaseModel):
    labels: list[str]
    scores: dict[str, float]


class SegmentOut(BaseModel):
    start: int
    end: int
    scores: dict[str, float]


class TokenWeightOut(BaseModel):
    token: str
    start: int
    end: int
    weight: float


class ExplanationOut(BaseModel):
    label: str
    score: float
    method: str
    tokens: list[TokenWeightOut]
    note: str


class ResultOut(BaseModel):
    text: str
    task: str
    label: str
    labels: list[str]
    scores: dict[str, float]
    multi_label: bool
    empty: bool
    levels: dict[str, LevelOut]
    warnings: list[str]
    segments: list[SegmentOut]
    explanation: ExplanationOut | None = None
    abstained: bool = False


class AspectVerdictOut(BaseModel):
    aspect: str
    start: int | None
    end: int | None
    polarity: str | None
    probability: float | None
    scores: dict[str, float]
    clause: list[int] | None
    found: bool
    source: str
    note: str
    method: str = "clauses"


class CategoryOut(BaseModel):
    category: str
    scheme: str
    probability: float
    polarity: str
    scores: dict[str, float]


class ClauseOut(BaseModel):
    start: int
    end: int
    label: str
    scores: dict[str, float]


class AspectAnalysisOut(BaseModel):
    text: str
    aspects: list[AspectVerdictOut]
    categories: list[CategoryOut] = []
    clauses: list[ClauseOut]
    summary: dict[str, Any]
    notes: list[str]


class ResultsResponse(BaseModel):
    model: str
    results: list[ResultOut]


class AspectsResponse(BaseModel):
    model: str
    results: list[AspectAnalysisOut]


class VerdictOut(BaseModel):
    label: str = Field(..., description="negative, neutral, positive or mixed: the one answer for the text.")
    confidence: float
    reason: str
    emotions: list[str] = Field(..., description="The emotions shown with the verdict (none contradicts it).")
    contrary: list[str] = Field(..., description="Emotions over their thresholds whose polarity contradicts it.")
    evidence: dict[str, Any]


class AnalyzeItem(BaseModel):
    text: str | None
    sentiment: ResultOut | None = None
    emotion: ResultOut | None = None
    aspects: AspectAnalysisOut | None = None
    verdict: VerdictOut | None = Field(None, description="Sentence, aspects and emotions reconciled (with sentiment).")


class AnalyzeResponse(BaseModel):
    models: dict[str, str | None]
    results: list[AnalyzeItem]


class AudioResponse(BaseModel):
    model: str
    label: str
    scores: dict[str, float]
    branches: dict[str, dict[str, float] | None]
    weights: dict[str, float]
    transcript: str | None
    transcript_source: str | None
    duration_s: float | None
    windows: int
    audio_labels: dict[str, float] | None
    warnings: list[str]


class JobProgress(BaseModel):
    done: int
    total: int | None


class JobOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    filename: str
    created: str
    started: str | None
    finished: str | None
    progress: JobProgress
    error: str | None
    files: dict[str, str]
    summary: dict[str, Any] | None


class JobList(BaseModel):
    jobs: list[JobOut]


class Health(BaseModel):
    status: str
    version: str
    models: dict[str, str | None]


class ErrorBody(BaseModel):
    status: int
    type: str
    message: str
    details: list[Any] = []


class ErrorResponse(BaseModel):
    error: ErrorBody
