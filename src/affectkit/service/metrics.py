"""Prometheus metrics of one app instance (its own registry: nothing global)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

__all__ = ["Metrics"]


class _JobsCollector:
    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def collect(self):
        family = GaugeMetricFamily("affectkit_jobs", "Review jobs by status.", labels=["status"])
        counts = self.metrics.job_counts() if self.metrics.job_counts else {}
        for status in ("queued", "running", "done", "failed", "cancelled"):
            family.add_metric([status], counts.get(status, 0))
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("affectkit_requests", "HTTP requests by route, method and status.",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("affectkit_request_seconds", "Request latency by route.", ["route"],
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
                                 registry=self.registry)
        self.texts = Counter("affectkit_texts", "Texts analysed, by task.", ["task"], registry=self.registry)
        self.batch_size = Histogram("affectkit_batch_texts", "Texts per inference batch.",
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=self.registry)
        self.cancelled_texts = Counter("affectkit_cancelled_texts", "Texts whose model work was dropped midway: "
                                       "their deadline passed or their client went away.", registry=self.registry)
        self.model_load_seconds = Gauge("affectkit_model_load_seconds", "Seconds taken to load the models.",
                                        registry=self.registry)
        self.job_counts: Callable[[], dict[str, int]] | None = None
        self.registry.register(_JobsCollector(self))

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
