"""The Kafka benchmarks' fixture: a fresh local broker (tansu) with the events topic filled."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import CACHE, REPO, log, quiet_env, run_probe
from detector.broker import LocalBroker

PARTITIONS = 8


@dataclass(frozen=True, slots=True)
class Topics:
    bootstrap: str
    events: str
    alerts: str
    dlq: str


@contextmanager
def broker_with_topics(partitions: int = PARTITIONS) -> Iterator[Topics]:
    """Start a broker of our own and create the three topics (events with ``partitions``)."""
    from detector.kafka import create_topics
    from detector.settings import Settings

    CACHE.mkdir(parents=True, exist_ok=True)
    with LocalBroker(log_path=str(CACHE / "broker.log")) as broker:
        suffix = uuid.uuid4().hex[:6]
        topics = Topics(
            broker.bootstrap, f"bench-events-{suffix}", f"bench-alerts-{suffix}", f"bench-dlq-{suffix}"
        )
        settings = Settings(
            bootstrap_servers=broker.bootstrap,
            events_topic=topics.events,
            alerts_topic=topics.alerts,
            dlq_topic=topics.dlq,
        )
        create_topics(settings, partitions=partitions)
        yield topics


def fill(topics: Topics, path: Path, count: int) -> dict[str, Any]:
    """Publish the first ``count`` events of ``path`` as fast as the producer goes."""
    log(f"producing {count:,} events to {topics.events} ...")
    return run_probe(
        [
            "produce",
            "--bootstrap",
            topics.bootstrap,
            "--topic",
            topics.events,
            "--file",
            str(path),
            "--limit",
            str(count),
        ]
    )


def worker_args(topics: Topics, group: str, *extra: str) -> list[str]:
    return [
        "worker",
        "--bootstrap",
        topics.bootstrap,
        "--topic",
        topics.events,
        "--alerts-topic",
        topics.alerts,
        "--dlq-topic",
        topics.dlq,
        "--group",
        group,
        *extra,
    ]


def start_probe(args: Sequence[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.probes", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=quiet_env(),
        cwd=REPO,
    )


def finish_probe(process: subprocess.Popen[str], timeout: float = 1800.0) -> dict[str, Any]:
    import json

    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise RuntimeError(f"probe timed out:\n{err[-3000:]}") from None
    if process.returncode != 0:
        raise RuntimeError(f"probe failed ({process.returncode}):\n{err[-3000:]}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"probe printed no result:\n{err[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def wait_for_file(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not appear within {timeout}s")
        time.sleep(0.05)
