"""Prometheus metrics and the /healthz, /readyz endpoints of the worker.

Names follow Prometheus conventions (``_total`` counters, base units ``_seconds`` / ``_bytes``);
no account id is ever a label (unbounded cardinality, and account ids are customer data). The
only per-thing label is the input partition, bounded by the topic's partition count.

Liveness: the worker loop calls ``beat()`` every turn (also while it waits for a broker or a
restore), so /healthz fails only when the loop is stuck. Readiness: /readyz is 200 only when every
condition holds — partitions assigned, their state restored, the broker reachable, deliveries
going through — and otherwise names the ones that do not.
"""

from __future__ import annotations

import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Readiness conditions, in the order /readyz reports them.
ASSIGNED = "partitions_assigned"
RESTORED = "state_restored"
BROKER = "broker_reachable"
DELIVERING = "deliveries_acknowledged"
CONDITIONS = (ASSIGNED, RESTORED, BROKER, DELIVERING)

_LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    """The worker's counters, on a registry of its own (tests create as many as they like)."""

    def __init__(self, registry: CollectorRegistry | None = None, liveness_timeout_s: float = 120.0) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events_total = Counter("detector_events_consumed_total", "Events consumed.", registry=r)
        self.invalid_total = Counter(
            "detector_events_invalid_total", "Events sent to the dead-letter topic.", ["reason"], registry=r
        )
        self.duplicates_total = Counter(
            "detector_events_duplicate_total",
            "Redelivered events recognised (by event_id or by an offset already in the state).",
            registry=r,
        )
        self.alerts_total = Counter("detector_alerts_total", "Alerts published.", ["severity"], registry=r)
        self.batch_seconds = Histogram(
            "detector_batch_processing_seconds",
            "Time to process one polled batch (before delivery and commit).",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.event_latency = Histogram(
            "detector_event_latency_seconds",
            "From an event's timestamp on the input topic to the commit of its batch.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.accounts = Gauge("detector_tracked_accounts", "Accounts held in state.", registry=r)
        self.state_bytes = Gauge(
            "detector_state_memory_bytes", "Memory held by account state (measured on a sample).", registry=r
        )
        self.account_bytes = Gauge(
            "detector_state_account_memory_bytes",
            "Mean memory of one account's state (measured on a sample).",
            registry=r,
        )
        self.partitions = Gauge("detector_partitions_assigned", "Input partitions owned.", registry=r)
        self.ready = Gauge(
            "detector_ready",
            "1 when partitions are assigned, their state restored, the broker reachable and "
            "deliveries acknowledged.",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "detector_consumer_lag_messages", "High-water mark minus position.", ["partition"], registry=r
        )
        self.restore_seconds = Histogram(
            "detector_state_restore_seconds",
            "Time to restore the state of newly assigned partitions from the changelog.",
            buckets=(0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=r,
        )
        self.restored_accounts = Counter(
            "detector_state_restored_accounts_total", "Accounts restored from the changelog.", registry=r
        )
        self.restored_records = Counter(
            "detector_state_restored_records_total", "Changelog records read while restoring.", registry=r
        )
        self.unreadable_records = Counter(
            "detector_state_unreadable_records_total",
            "Changelog records that could not be decoded (the account restarts empty).",
            registry=r,
        )
        self.changelog_records = Counter(
            "detector_changelog_records_total",
            "Records written to the state changelog (kind = state or tombstone).",
            ["kind"],
            registry=r,
        )
        self.retries = Counter(
            "detector_kafka_retries_total",
            "Kafka operations retried after a failure, by operation.",
            ["operation"],
            registry=r,
        )
        self._liveness_timeout = liveness_timeout_s
        self._last_beat = time.monotonic()
        # Not ready until partitions are assigned; the other conditions fail only when observed.
        self._conditions = dict.fromkeys(CONDITIONS, True)
        self._conditions[ASSIGNED] = False
        self._lock = threading.Lock()
        self.live = True

    # --- liveness and readiness ---------------------------------------------------------------
    def beat(self) -> None:
        """The worker loop turned (or a long wait made progress)."""
        self._last_beat = time.monotonic()

    @property
    def alive(self) -> bool:
        return self.live and time.monotonic() - self._last_beat < self._liveness_timeout

    def condition(self, name: str, ok: bool) -> None:
        """Set one readiness condition; ``detector_ready`` is 1 only when all hold."""
        with self._lock:
            self._conditions[name] = ok
            self.ready.set(1 if all(self._conditions.values()) else 0)

    def not_ready(self) -> None:
        """Shutting down: no longer ready whatever the conditions say."""
        with self._lock:
            self._conditions[ASSIGNED] = False
            self.ready.set(0)

    def failing_conditions(self) -> list[str]:
        with self._lock:
            return [name for name in CONDITIONS if not self._conditions[name]]

    @property
    def is_ready(self) -> bool:
        return not self.failing_conditions()

    # --- counters -------------------------------------------------------------------------------
    def invalid(self, reason: str) -> None:
        self.invalid_total.labels(reason=reason).inc()

    def duplicate(self) -> None:
        self.duplicates_total.inc()

    def alert(self, severity: str) -> None:
        self.alerts_total.labels(severity=severity).inc()

    def retry(self, operation: str) -> None:
        self.retries.labels(operation=operation).inc()

    def batch(self, size: int, seconds: float, accounts: int) -> None:
        self.events_total.inc(size)
        self.batch_seconds.observe(seconds)
        self.accounts.set(accounts)

    def forget_partition(self, partition: int) -> None:
        """Drop the per-partition series of a partition this worker no longer owns."""
        with contextlib.suppress(KeyError):  # never reported (e.g. revoked while restoring)
            self.consumer_lag.remove(str(partition))


def serve_http(metrics: Metrics, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Serve /metrics, /healthz (loop alive) and /readyz (ready to process) in a thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, status, kind = generate_latest(metrics.registry), 200, CONTENT_TYPE_LATEST
            elif self.path == "/healthz":
                ok = metrics.alive
                body, status, kind = (b"ok\n" if ok else b"stuck\n"), (200 if ok else 503), "text/plain"
            elif self.path == "/readyz":
                failing = metrics.failing_conditions()
                text = "ready\n" if not failing else "not ready: " + ", ".join(failing) + "\n"
                body, status, kind = text.encode(), (503 if failing else 200), "text/plain"
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
