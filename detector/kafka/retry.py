"""How the Kafka edge waits out a failure: exponential backoff, the worker kept alive meanwhile.

A broker that is down, an alerts topic that does not acknowledge, a commit that times out: each is
retried after ``retry_backoff_ms``, doubling up to ``retry_backoff_max_ms``, for as long as it takes
or until a stop is requested. While it waits, the loop keeps beating (/healthz stays up: the
process is fine, restarting it would not help) and ``while_waiting`` runs — the source's ``hold``,
which pauses consumption but keeps the worker in its consumer group. That pause is the
backpressure: nothing new is read while what was read cannot be delivered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from detector.metrics import Metrics
from detector.settings import Settings

log = structlog.get_logger("detector.kafka")

# Longest single sleep, so a stop request or a group heartbeat is never kept waiting long.
_TICK_S = 0.25


def describe_error(error: BaseException | str | None) -> str:
    """Class name and message of a client error. Kafka errors carry no payloads, and payloads
    are never put in these messages."""
    if error is None:
        return "none"
    if isinstance(error, str):
        return error
    return f"{type(error).__name__}: {error}"[:300]


class Retry:
    """Backoff policy plus what to do while waiting; one per worker, shared by the Kafka edge."""

    def __init__(
        self,
        settings: Settings,
        stop: threading.Event | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.initial_s = settings.retry_backoff_ms / 1000.0
        self.maximum_s = max(settings.retry_backoff_max_ms, settings.retry_backoff_ms) / 1000.0
        self.stop = stop or threading.Event()
        self.metrics = metrics
        # Set by the wiring to the source's ``hold`` (pause consumption, stay in the group).
        self.while_waiting: Callable[[], None] | None = None

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        return float(min(self.maximum_s, self.initial_s * 2 ** min(attempt, 30)))

    def wait(
        self, operation: str, attempt: int, error: BaseException | str | None, hold: bool = True
    ) -> bool:
        """Back off before retrying ``operation``; False when a stop was requested meanwhile."""
        delay = self.delay(attempt)
        if self.metrics:
            self.metrics.retry(operation)
        log.warning(
            "kafka_retry",
            operation=operation,
            attempt=attempt + 1,
            backoff_s=round(delay, 3),
            error=describe_error(error),
        )
        return self.sleep(delay, hold=hold)

    def sleep(self, seconds: float, hold: bool = True) -> bool:
        """Wait ``seconds`` in short ticks (beating, holding); False when a stop was requested."""
        deadline = time.monotonic() + seconds
        while True:
            if hold and self.while_waiting is not None:
                self.while_waiting()
            if self.metrics:
                self.metrics.beat()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return not self.stop.is_set()
            if self.stop.wait(min(remaining, _TICK_S)):
                return False
