"""Measurement processes the benchmarks start: ``python -m benchmarks.probes NAME [options]``.

Each probe runs in a process of its own (so that its memory, its imports and its CPU pinning
are its own) and prints one JSON object as its last stdout line. The worker probe runs the
production pieces unchanged (``Detector``, ``KafkaSource``, ``KafkaSink``, ``run_loop``,
``Metrics``), wrapped only to take timestamps.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import random
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

# Nothing from ``detector`` is imported at module level: ``main`` first puts the copy to measure
# (DETECTOR_BENCH_CODE) on the path, and the probes import the package lazily after that.
if TYPE_CHECKING:
    from detector.events import Alert, Rejected
    from detector.pipeline.coordination import Fingerprint


def emit(payload: dict[str, Any]) -> None:
    print(json.dumps(payload), flush=True)


def rss_bytes() -> int:
    """Resident set size of this process, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# --- file reading reference -------------------------------------------------------------------
def read_decode(args: argparse.Namespace) -> None:
    """Only read the JSONL file line by line and decode each line with orjson."""
    loads = orjson.loads
    started = time.perf_counter()
    count = 0
    with open(args.file, "rb") as stream:
        for line in stream:
            loads(line)
            count += 1
    seconds = time.perf_counter() - started
    emit({"events": count, "seconds": seconds, "events_per_s": count / seconds})


# --- Kafka --------------------------------------------------------------------------------------
def bare_consume(args: argparse.Namespace) -> None:
    """A bare kafka-python consumer draining the topic: no group, no decoding, no commits."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=args.max_poll_records,
        fetch_max_bytes=52_428_800,
    )
    partitions = consumer.partitions_for_topic(args.topic) or set()
    consumer.assign([TopicPartition(args.topic, p) for p in sorted(partitions)])
    consumer.seek_to_beginning()
    count = 0
    first: float | None = None
    deadline = time.monotonic() + args.timeout
    while count < args.expect and time.monotonic() < deadline:
        polled = consumer.poll(timeout_ms=500, max_records=args.max_poll_records)
        got = sum(len(records) for records in polled.values())
        if got and first is None:
            first = time.perf_counter()
            first_batch = got
        count += got
    done = time.perf_counter()
    consumer.close()
    if first is None or count < args.expect:
        raise SystemExit(f"bare consumer read {count} of {args.expect}")
    measured = count - first_batch
    emit({"events": count, "seconds": done - first, "events_per_s": measured / (done - first)})


class _TimedSource:
    """Wraps the worker's source: when each batch arrived, when it was committed."""

    def __init__(self, inner: Any, stop: threading.Event, expect: int | None, idle_exit: float) -> None:
        self.inner = inner
        self._stop = stop
        self._expect = expect
        self._idle_exit = idle_exit
        self.arrived = 0.0
        self.first_arrival: float | None = None
        self.last_commit = 0.0
        self.last_records = time.monotonic()
        self.committed = 0
        self.timeline: list[tuple[float, int]] = []  # (wall time of commit, events in batch)
        self.event_latencies: list[float] = []  # per batch: arrival -> committed
        self.batch_sizes: list[int] = []

    def poll(self) -> Sequence[Any]:
        batch = self.inner.poll()
        now = time.perf_counter()
        if batch:
            self.arrived = now
            self.last_records = time.monotonic()
            if self.first_arrival is None:
                self.first_arrival = now
        elif (
            self._idle_exit > 0
            and self.first_arrival is not None
            and time.monotonic() - self.last_records > self._idle_exit
        ):
            self._stop.set()
        return batch  # type: ignore[no-any-return]

    def commit(self, batch: Sequence[Any]) -> None:
        self.inner.commit(batch)
        now = time.perf_counter()
        self.last_commit = now
        self.committed += len(batch)
        self.timeline.append((time.time(), len(batch)))
        self.event_latencies.append(now - self.arrived)
        self.batch_sizes.append(len(batch))
        if self._expect is not None and self.committed >= self._expect:
            self._stop.set()

    @property
    def exhausted(self) -> bool:
        return bool(self.inner.exhausted)

    def unread_partitions(self) -> set[int | None]:
        return self.inner.unread_partitions()  # type: ignore[no-any-return]

    def close(self) -> None:
        self.inner.close()

    def assigned(self) -> int:
        # Benchmark-only peek at the consumer's assignment (to know when the group has settled).
        return len(self.inner._consumer.assignment())


class _TimedSink:
    """Wraps the worker's sink: how long after its batch arrived each alert was acknowledged."""

    def __init__(self, inner: Any, source: _TimedSource) -> None:
        self.inner = inner
        self._source = source
        self._pending = 0
        self.alerts = 0
        self.alert_latencies: list[float] = []

    def send_alert(self, alert: Alert) -> None:
        self.inner.send_alert(alert)
        self._pending += 1

    def send_dead_letter(self, rejected: Rejected) -> None:
        self.inner.send_dead_letter(rejected)

    def send_fingerprint(self, fingerprint: Fingerprint) -> None:
        self.inner.send_fingerprint(fingerprint)

    def flush(self) -> None:
        self.inner.flush()
        if self._pending:
            acked = time.perf_counter() - self._source.arrived
            self.alert_latencies.extend([acked] * self._pending)
            self.alerts += self._pending
            self._pending = 0

    def close(self) -> None:
        self.inner.close()


def worker(args: argparse.Namespace) -> None:
    """One ``detector run`` worker (the production objects), instrumented; exits when done."""
    from detector.kafka import KafkaSink, KafkaSource
    from detector.metrics import Metrics
    from detector.pipeline.step import Detector
    from detector.process import wall_clock
    from detector.runner import run_loop
    from detector.settings import Settings

    settings = Settings(
        bootstrap_servers=args.bootstrap,
        events_topic=args.topic,
        alerts_topic=args.alerts_topic,
        dlq_topic=args.dlq_topic,
        group_id=args.group,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        metrics_port=0,
        log_level="warning",
    )
    stop = threading.Event()
    metrics = Metrics()
    detector = Detector(settings, clock=wall_clock)
    source = _TimedSource(KafkaSource(settings, metrics), stop, args.expect, args.idle_exit)
    sink = _TimedSink(KafkaSink(settings), source)
    if args.ready_file:
        # Join the group before the producer starts (the latency benchmark's steady state).
        threading.Thread(target=_announce_ready, args=(source, args.ready_file), daemon=True).start()
    deadline = threading.Timer(args.timeout, stop.set)
    deadline.daemon = True
    deadline.start()
    try:
        stats = run_loop(detector, source, sink, stop, metrics)
    finally:
        sink.close()
        source.close()
    first = source.first_arrival or 0.0
    seconds = max(source.last_commit - first, 1e-9)
    emit(
        {
            "events": stats.events,
            "alerts": stats.alerts,
            "duplicates": stats.duplicates,
            "seconds": seconds,
            "events_per_s": stats.events / seconds,
            "timeline": source.timeline,
            "event_latencies": source.event_latencies,
            "batch_sizes": source.batch_sizes,
            "alert_latencies": sink.alert_latencies,
            "accounts": detector.tracked_accounts,
            "code": str(Path(sys.modules["detector"].__file__ or "").parent),
        }
    )


def _announce_ready(source: _TimedSource, path: str) -> None:
    while True:
        try:
            if source.assigned():
                Path(path).write_text("ready")
                return
        except Exception:  # the consumer may be mid-rebalance; look again
            pass
        time.sleep(0.05)


def produce(args: argparse.Namespace) -> None:
    """Publish events from a JSONL file (keyed by account), flat out or at a steady rate."""
    from detector.kafka.client import EventPublisher
    from detector.settings import Settings

    publisher = EventPublisher(Settings(bootstrap_servers=args.bootstrap, events_topic=args.topic))
    events = _events(Path(args.file), args.limit)
    sent = 0
    started = time.perf_counter()
    if args.rate <= 0:
        for key, raw in events:
            publisher.send(key, raw)
            sent += 1
    else:
        tick = 0.01
        per_tick = args.rate * tick
        budget = 0.0
        next_tick = started
        for key, raw in events:
            while budget < 1.0:
                next_tick += tick
                delay = next_tick - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                budget += per_tick
            publisher.send(key, raw)
            budget -= 1.0
            sent += 1
    publisher.close()
    seconds = time.perf_counter() - started
    emit({"events": sent, "seconds": seconds, "events_per_s": sent / seconds})


def _events(path: Path, limit: int) -> Iterator[tuple[bytes, bytes]]:
    with open(path, "rb") as stream:
        for number, line in enumerate(stream):
            if number >= limit:
                return
            raw = line.rstrip(b"\r\n")
            yield orjson.loads(raw)["account_id"].encode(), raw


# --- synthetic traffic for memory and cost ------------------------------------------------------
_T0 = datetime(2026, 11, 2, tzinfo=UTC).timestamp()


class Synthetic:
    """Valid v1 events for any number of accounts, with real prompts (from a simulated file)."""

    def __init__(self, prompts_from: Path | None, seed: int = 1) -> None:
        self._rng = random.Random(seed)
        self._prompts: list[str] = []
        if prompts_from is not None:
            with open(prompts_from, "rb") as stream:
                for line in stream:
                    prompt = orjson.loads(line).get("prompt")
                    if prompt:
                        self._prompts.append(prompt)
                    if len(self._prompts) >= 5_000:
                        break
        if not self._prompts:
            self._prompts = ["Summarise this paragraph for a colleague, please."]
        self._counter = 0

    def event(self, account: int, at: float, *, campaign: int | None = None) -> bytes:
        self._counter += 1
        rng = self._rng
        if campaign is None:
            prompt = rng.choice(self._prompts)
            document: dict[str, Any] = {
                "client_ip": f"10.{account % 250}.{(account // 250) % 250}.{account % 7 + 1}",
                "user_agent": "OpenAI/Python 1.40.6",
                "system_prompt_hash": None,
                "messages": rng.choice((1, 1, 2, 3)),
                "params": {"temperature": 0.7, "max_tokens": 1024, "stream": True},
                "prompt_tokens": rng.randint(20, 2_000),
                "completion_tokens": rng.randint(5, 900),
            }
        else:  # a hydra member: its campaign's template, system prompt and network; asks for reasoning
            # Each campaign has its own template (the words the template key is made of) and /24;
            # all of them share one scraper user agent, as many real campaigns would.
            name = "".join(chr(97 + (campaign // 26**i) % 26) for i in range(3))  # digits are folded
            prompt = (
                f"Project {name} task: solve problem {self._counter % 997}. Think step by step "
                f"and show your reasoning before the final answer: {rng.choice(self._prompts)[:300]} "
                f"(reply in the project {name} answer format)"
            )
            document = {
                "client_ip": f"172.{16 + campaign // 250}.{campaign % 250}.{account % 250 + 1}",
                "user_agent": "python-requests/2.31",
                "system_prompt_hash": f"camp{campaign:06d}",
                "messages": 1,
                "params": {"temperature": 0.0, "max_tokens": 2048},
                "prompt_tokens": rng.randint(200, 600),
                "completion_tokens": 2_000,
            }
        document.update(
            {
                "schema_version": 1,
                "event_id": f"evt-{self._counter:012d}",
                "timestamp": int(at * 1000),
                "account_id": f"acct_{account:08d}",
                "org_id": f"org_{account // 3:08d}",
                "endpoint": "chat.completions",
                "model": "frontier-large",
                "status": 200,
                "prompt": prompt,
            }
        )
        if campaign is not None:  # one org per campaign: campaigns stay apart (linked by nothing
            document["org_id"] = f"org_c{campaign:06d}"  # but the scrapers' common user agent)
        return orjson.dumps(document)


def _detector(**overrides: Any) -> Any:
    from detector.pipeline.step import Detector
    from detector.settings import Settings

    fixed = datetime(2026, 11, 2, tzinfo=UTC)
    return Detector(Settings(log_level="warning", metrics_port=0, **overrides), clock=lambda: fixed)


def memory(args: argparse.Namespace) -> None:
    """Resident bytes per tracked account: one event each for N accounts, dedup window off."""
    synthetic = Synthetic(Path(args.prompts) if args.prompts else None)
    detector = _detector(dedup_window_events=0, max_accounts=max(2_000_000, args.accounts))
    # Warm up imports, learners and allocator pools before the baseline reading.
    for number in range(2_000):
        detector.process_one(synthetic.event(10**8 + number, _T0))
    gc.collect()
    before_rss = rss_bytes()
    before = detector.tracked_accounts
    spacing = 3600.0 / max(args.accounts, 1)  # spread over an hour of event time
    for number in range(args.accounts):
        detector.process_one(synthetic.event(number, _T0 + 1 + number * spacing))
    gc.collect()
    after_rss = rss_bytes()
    tracked = detector.tracked_accounts - before
    # Accounts idle for longer than the TTL expire: send a little traffic eight days later.
    later = _T0 + 8 * 86_400.0
    for number in range(2_000):
        detector.process_one(synthetic.event(10**9 + number, later + number))
    expired_to = detector.tracked_accounts
    states = [state for part in detector.partitions.values() for state in part.accounts][:1000]
    emit(
        {
            "accounts": tracked,
            "rss_before": before_rss,
            "rss_after": after_rss,
            "bytes_per_account": (after_rss - before_rss) / max(tracked, 1),
            "pickle_bytes_per_account": sum(len(pickle.dumps(s)) for s in states) / max(len(states), 1),
            "tracked_after_ttl": expired_to,
        }
    )


def _deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes of an object and everything it references (not shared interned objects)."""
    seen = seen if seen is not None else set()
    if id(obj) in seen or obj is None or (isinstance(obj, bool | int | float) and -5 <= obj <= 256):
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(_deep_size(k, seen) + _deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        size += sum(_deep_size(item, seen) for item in obj)
    elif hasattr(obj, "__slots__"):
        for name in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, name):
                size += _deep_size(getattr(obj, name), seen)
    elif hasattr(obj, "__dict__"):
        size += _deep_size(vars(obj), seen)
    return size


def state_growth(args: argparse.Namespace) -> None:
    """Size of one account's state as its event count grows (it must stay flat)."""
    synthetic = Synthetic(Path(args.prompts) if args.prompts else None)
    detector = _detector()
    checkpoints = sorted({n for n in (1, 10, 100, 1_000, 10_000) if n < args.events} | {args.events})
    points = []
    at = _T0
    done = 0
    for target in checkpoints:
        while done < target:
            at += 2.0
            detector.process_one(synthetic.event(7, at))
            done += 1
        state = next(iter(next(iter(detector.partitions.values())).accounts))
        points.append(
            {"events": done, "pickle_bytes": len(pickle.dumps(state)), "deep_bytes": _deep_size(state)}
        )
    emit({"points": points})


def cost(args: argparse.Namespace) -> None:
    """Events/s of the same traffic with N accounts tracked and C campaigns open.

    The timed traffic is identical whatever N: ``--active`` accounts send it; the other N
    accounts were seen once and sit in the store. With campaigns, 5% of the timed events come
    from the members of (at most) ten of them; the others stay open in the background.
    """
    synthetic = Synthetic(Path(args.prompts) if args.prompts else None)
    detector = _detector(max_accounts=max(2_000_000, args.accounts + args.active + 10_000))
    at = _T0
    # 1. N accounts seen once (not timed), spread over an hour of event time.
    step = 3600.0 / max(args.accounts, 1)
    for number in range(args.accounts):
        at += step
        detector.process_one(synthetic.event(10**7 + number, at))
    # 2. Campaigns: 5 members each, enough calls to be suspicious and linked (not timed).
    members = [(c, 5_000_000 + c * 5 + m) for c in range(args.campaigns) for m in range(5)]
    warm_step = 1.0
    for _ in range(args.campaign_warmup):
        for campaign, account in members:
            at += warm_step / max(len(members), 1)
            detector.process_one(synthetic.event(account, at, campaign=campaign))
        at += 30.0
    open_campaigns = len(getattr(detector.coordination, "campaigns", None) or {})
    # Only the first ten campaigns call during the timed part, whatever the number open, so that
    # the timed traffic (and each member's call rate) is the same in every case.
    talking = members[: 10 * 5]
    # 3. The timed traffic, generated ahead in chunks so that generation is not timed.
    rng = random.Random(3)
    processed = 0
    seconds = 0.0
    event_step = 0.02  # 50 events/s of event time: an active account calls every few minutes
    while processed < args.events:
        chunk = []
        for _ in range(min(10_000, args.events - processed)):
            at += event_step
            if talking and rng.random() < 0.05:
                campaign, account = talking[rng.randrange(len(talking))]
                chunk.append(synthetic.event(account, at, campaign=campaign))
            else:
                chunk.append(synthetic.event(rng.randrange(args.active), at))
        process = detector.process_one
        started = time.perf_counter()
        for raw in chunk:
            process(raw)
        seconds += time.perf_counter() - started
        processed += len(chunk)
    emit(
        {
            "accounts_tracked": detector.tracked_accounts,
            "campaigns_open": open_campaigns,
            "events": processed,
            "seconds": seconds,
            "events_per_s": processed / seconds,
        }
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.probes")
    probes = parser.add_subparsers(dest="probe", required=True)

    p = probes.add_parser("read-decode")
    p.add_argument("file")
    p.set_defaults(func=read_decode)

    p = probes.add_parser("bare-consume")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--expect", type=int, required=True)
    p.add_argument("--max-poll-records", type=int, default=2_000)
    p.add_argument("--timeout", type=float, default=600.0)
    p.set_defaults(func=bare_consume)

    p = probes.add_parser("worker")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--alerts-topic", required=True)
    p.add_argument("--dlq-topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--expect", type=int, default=None, help="stop after committing this many")
    p.add_argument("--idle-exit", type=float, default=0.0, help="stop after this long without records")
    p.add_argument("--ready-file", default=None)
    p.add_argument("--timeout", type=float, default=900.0)
    p.set_defaults(func=worker)

    p = probes.add_parser("produce")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--limit", type=int, required=True)
    p.add_argument("--rate", type=float, default=0.0, help="events/s (0 = flat out)")
    p.set_defaults(func=produce)

    p = probes.add_parser("memory")
    p.add_argument("--accounts", type=int, required=True)
    p.add_argument("--prompts", default=None)
    p.set_defaults(func=memory)

    p = probes.add_parser("state-growth")
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--prompts", default=None)
    p.set_defaults(func=state_growth)

    p = probes.add_parser("cost")
    p.add_argument("--accounts", type=int, required=True)
    p.add_argument("--active", type=int, default=10_000)
    p.add_argument("--campaigns", type=int, default=0)
    p.add_argument("--campaign-warmup", type=int, default=60, help="calls per campaign member before timing")
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--prompts", default=None)
    p.set_defaults(func=cost)

    args = parser.parse_args(argv)
    code = os.environ.get("DETECTOR_BENCH_CODE")
    if code:  # measure another copy of the detector (e.g. the code before a change)
        sys.path.insert(0, code)
    from detector.logs import configure_logging

    configure_logging(os.environ.get("DETECTOR_LOG_LEVEL", "warning"), "json")  # stderr; stdout = result
    args.func(args)


if __name__ == "__main__":
    main()
