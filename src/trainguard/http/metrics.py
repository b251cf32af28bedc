"""Prometheus metrics: requests by route and status, their latency, decisions
by outcome, and how the decision context is kept (full loads, events replayed).

Each application has its own registry, so two services in one process (tests)
do not count each other's requests. Routes are labelled by their template
(``/v1/scans/{scan_id}``), never by the path a client sent: labels stay few.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..app import Application
from .errors import ASGIApp, Message, Receive, Scope, Send

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    def __init__(self, application: Application) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "trainguard_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "trainguard_http_request_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "trainguard_decisions",
            "Decisions served, by outcome (allowed or denied).",
            ["outcome"],
            registry=self.registry,
        )
        self.registry.register(_ContextCollector(application))

    def decided(self, allowed: int, denied: int) -> None:
        if allowed:
            self.decisions.labels("allowed").inc(allowed)
        if denied:
            self.decisions.labels("denied").inc(denied)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _ContextCollector(Collector):
    def __init__(self, application: Application) -> None:
        self.application = application

    def collect(self) -> Any:
        cache = self.application.contexts
        loads = CounterMetricFamily(
            "trainguard_context_loads",
            "Full loads of the decision context (the ledger read whole).",
        )
        loads.add_metric([], cache.loads)
        yield loads
        replayed = GaugeMetricFamily(
            "trainguard_context_replayed_events",
            "Consent events added to the cached ledger from the log since its last full load.",
        )
        replayed.add_metric([], cache.replayed)
        yield replayed
        journal = self.application.journal
        for name, value, text in (
            ("commits", journal.commits, "Transactions the audit writer committed."),
            ("entries", journal.entries, "Audit entries those transactions appended."),
            (
                "redone",
                journal.redone,
                "Decisions made again at commit: the log showed a newer context.",
            ),
        ):
            family = CounterMetricFamily(f"trainguard_journal_{name}", text)
            family.add_metric([], value)
            yield family


class MetricsMiddleware:
    """Counts and times every HTTP request (a plain ASGI middleware: cheap)."""

    def __init__(self, app: ASGIApp, metrics: Callable[[], Metrics]) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            m = self.metrics()
            m.requests.labels(template, scope.get("method", ""), str(status)).inc()
            m.latency.labels(template).observe(time.perf_counter() - start)
