"""Process-level helpers the commands share: the wall clock, stop signals, pacing of a replay.

They live here rather than in ``cli.py`` so that ``demo.py`` (and the benchmarks) can use them
without importing the CLI that imports them: the CLI only wires.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import structlog

log = structlog.get_logger("detector.process")


def wall_clock() -> datetime:
    """The entry points' ``now``: below them, the clock is passed in (replays stay deterministic)."""
    return datetime.now(UTC)


def install_stop_handlers(stop: threading.Event) -> None:
    """SIGTERM/SIGINT: finish the batch in hand, flush, commit, leave the group, exit 0."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("stop_requested", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def paced(events: Iterator[dict[str, Any]], speed: float, stop: threading.Event) -> Iterator[dict[str, Any]]:
    """Release events at ``speed`` x event time (0 = as fast as possible), so that a simulated
    day can be watched live; ``stop`` ends the stream between two events."""
    if speed <= 0:
        yield from events
        return
    wall_start = time.monotonic()
    first: float | None = None
    for event in events:
        if stop.is_set():
            return
        at = datetime.fromisoformat(event["timestamp"]).timestamp()
        if first is None:
            first = at
        delay = (at - first) / speed - (time.monotonic() - wall_start)
        if delay > 0:
            stop.wait(delay)
        yield event
