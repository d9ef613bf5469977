"""Prometheus metrics: requests and latency per route, corpus size, answers and fallbacks."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """One registry per app, so several apps in one process (tests) do not collide."""

    def __init__(self, counts: Callable[[], tuple[int, int]]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "clusterchat_requests_total",
            "HTTP requests",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "clusterchat_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.answers = Counter(
            "clusterchat_answers_total",
            "Answers given",
            ["answerer", "abstained"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "clusterchat_answerer_fallbacks_total",
            "LLM answers replaced by the extractive answer",
            registry=self.registry,
        )
        documents = Gauge("clusterchat_documents", "Stored articles", registry=self.registry)
        chunks = Gauge("clusterchat_chunks", "Stored chunks", registry=self.registry)
        documents.set_function(lambda: counts()[0])
        chunks.set_function(lambda: counts()[1])

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request."""
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def answered(self, answerer: str, abstained: bool) -> None:
        """Count one answer, and a fallback when the LLM's answer was replaced."""
        self.answers.labels(answerer, str(abstained).lower()).inc()
        if answerer == "extractive-fallback":
            self.fallbacks.inc()

    def render(self) -> bytes:
        """The text exposition format."""
        return bytes(generate_latest(self.registry))
