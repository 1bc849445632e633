"""Prometheus metrics and the /healthz, /readyz endpoints of the worker.

Names follow Prometheus conventions; no account id is ever a label (unbounded cardinality, and
account ids are customer data).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    """The worker's counters, on a registry of its own (tests create as many as they like)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.events_total = Counter(
            "detector_events_consumed_total", "Events consumed.", registry=self.registry
        )
        self.invalid_total = Counter(
            "detector_events_invalid_total",
            "Events sent to the dead-letter topic.",
            ["reason"],
            registry=self.registry,
        )
        self.duplicates_total = Counter(
            "detector_events_duplicate_total",
            "Redelivered events dropped by event_id.",
            registry=self.registry,
        )
        self.alerts_total = Counter(
            "detector_alerts_total", "Alerts published.", ["severity"], registry=self.registry
        )
        self.batch_seconds = Histogram(
            "detector_batch_processing_seconds",
            "Time to process one polled batch.",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.accounts = Gauge("detector_tracked_accounts", "Accounts held in state.", registry=self.registry)
        self.ready = Gauge(
            "detector_ready",
            "1 when partitions are assigned and the worker consumes.",
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "detector_consumer_lag_messages",
            "High-water mark minus position.",
            ["partition"],
            registry=self.registry,
        )
        self.live = True

    def invalid(self, reason: str) -> None:
        self.invalid_total.labels(reason=reason).inc()

    def duplicate(self) -> None:
        self.duplicates_total.inc()

    def alert(self, severity: str) -> None:
        self.alerts_total.labels(severity=severity).inc()

    def batch(self, size: int, seconds: float, accounts: int) -> None:
        self.events_total.inc(size)
        self.batch_seconds.observe(seconds)
        self.accounts.set(accounts)


def serve_http(metrics: Metrics, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Serve /metrics, /healthz (process alive) and /readyz (partitions assigned) in a thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, status, kind = generate_latest(metrics.registry), 200, CONTENT_TYPE_LATEST
            elif self.path == "/healthz":
                ok = metrics.live
                body, status, kind = (b"ok\n" if ok else b"dead\n"), (200 if ok else 503), "text/plain"
            elif self.path == "/readyz":
                ok = metrics.ready._value.get() == 1.0
                body, status, kind = (
                    (b"ready\n" if ok else b"not ready\n"),
                    (200 if ok else 503),
                    "text/plain",
                )
            else:
                body, status, kind = b"not found\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Silence per-request access logs (scrapes every few seconds)."""

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
