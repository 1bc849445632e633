"""Benchmarks behind the figures of docs/operations.md (state that survives, hostile load).

    python scripts/bench_state.py restore [--accounts 100000] [--partitions 4] [--runs 3]
    python scripts/bench_state.py flood [--events 1000000] [--dedup-window 500000]

``restore`` starts the bundled broker, writes a changelog of N accounts (real account states
taken from simulated traffic, so records have production size) and times ``ChangelogState``
restoring it, as a worker does on assignment. ``flood`` pushes N events of one account through
the detector, with an ordinary account every 100 events, and reports throughput and memory.
Timings depend on the machine; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
from kafka import KafkaProducer

from detector.broker import LocalBroker
from detector.kafka import ChangelogState, changelog_topic, create_topics
from detector.logs import configure_logging
from detector.pipeline.snapshot import encode_account, memory_bytes
from detector.pipeline.step import Detector, SourceRef
from detector.settings import Settings
from tests.factories import START, benign_stream, bulk_distillation_stream, by_time, encode, event

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def sample_values() -> list[bytes]:
    """Changelog values of real accounts after a few hours of simulated traffic."""
    detector = Detector(Settings(), clock=lambda: NOW)
    traffic = by_time(benign_stream(300, 6), bulk_distillation_stream("acct_x", 1, 4))
    for offset, document in enumerate(traffic):
        detector.process_one(encode(document), SourceRef("t", 0, offset))
    return [encode_account(s) for s in detector.partition(0).accounts]


def bench_restore(accounts: int, partitions: int, runs: int) -> None:
    values = sample_values()
    with LocalBroker() as broker:
        settings = Settings(
            bootstrap_servers=broker.bootstrap,
            group_id=f"bench-{uuid.uuid4().hex[:6]}",
            events_topic="bench-events",
            alerts_topic="bench-alerts",
            dlq_topic="bench-dlq",
            topic_partitions=partitions,
        )
        create_topics(settings)
        producer = KafkaProducer(
            bootstrap_servers=broker.bootstrap, acks="all", linger_ms=20, batch_size=262_144
        )
        topic = changelog_topic(settings)
        size = 0
        for i in range(accounts):
            value = values[i % len(values)]
            size += len(value)
            producer.send(topic, key=f"acct_{i:07d}".encode(), value=value, partition=i % partitions)
        producer.flush()
        producer.close()
        print(f"changelog: {accounts:,} accounts, {size / 1e6:.1f} MB, mean record {size / accounts:.0f} B")
        seconds = []
        for run in range(runs):
            detector = Detector(settings, clock=lambda: NOW)
            state = ChangelogState(settings, detector)
            before = rss_bytes()
            started = time.perf_counter()
            state.assigned(set(range(partitions)))
            state.restore()
            elapsed = time.perf_counter() - started
            seconds.append(elapsed)
            held = detector.tracked_accounts
            grown = rss_bytes() - before
            state.close()
            print(
                f"run {run + 1}: restored {held:,} accounts in {elapsed:.2f} s "
                f"({held / elapsed:,.0f} accounts/s), RSS +{grown / 1e6:.0f} MB ({grown / max(held, 1):.0f} B/account)"
            )
        print(f"restore of {accounts:,} accounts: median {statistics.median(seconds):.2f} s over {runs} runs")


def bench_flood(events: int, dedup_window: int) -> None:
    detector = Detector(Settings(dedup_window_events=dedup_window), clock=lambda: NOW)
    template = orjson.dumps(event("acct_flood", START, prompt="Solve task 7. Think step by step."))
    base_rss = rss_bytes()
    started = time.perf_counter()
    checkpoints = {10**k for k in range(3, 8)} | {events}
    for i in range(1, events + 1):
        raw = template.replace(b'"evt-', f'"flood-{i}-'.encode(), 1)
        detector.process_one(raw, SourceRef("t", 0, i))
        if i % 100 == 0:
            other = encode(event(f"acct_other_{(i // 100) % 1000}", START + timedelta(seconds=i / 50)))
            detector.process_one(other, SourceRef("t", 1, i))
        if i in checkpoints:
            state = detector.partition(0).accounts.get("acct_flood")
            assert state is not None
            elapsed = time.perf_counter() - started
            print(
                f"{i:>9,} flood events: {i / elapsed:,.0f} events/s, flooder state {memory_bytes(state)} B in "
                f"memory / {len(encode_account(state))} B encoded, total_events={state.total_events:,}, "
                f"tracked accounts {detector.tracked_accounts:,}, RSS +{(rss_bytes() - base_rss) / 1e6:.0f} MB"
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    restore = commands.add_parser("restore")
    restore.add_argument("--accounts", type=int, default=100_000)
    restore.add_argument("--partitions", type=int, default=4)
    restore.add_argument("--runs", type=int, default=3)
    flood = commands.add_parser("flood")
    flood.add_argument("--events", type=int, default=1_000_000)
    flood.add_argument("--dedup-window", type=int, default=Settings().dedup_window_events)
    args = parser.parse_args()
    configure_logging("warning", "console")
    if args.command == "restore":
        bench_restore(args.accounts, args.partitions, args.runs)
    else:
        bench_flood(args.events, args.dedup_window)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
