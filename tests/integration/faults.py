"""Fault-injection kit for the ``test_faults_*`` suites: workers as threads or processes, a gateway
that knows which offset each event got, readers for the output topics and the state changelog,
a broker behind a proxy that can hold one topic's produce requests. All against the real broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from detector.broker import broker_binary, free_port
from detector.events import Alert
from detector.kafka import KafkaWorker, changelog_topic, start_worker
from detector.metrics import Metrics
from detector.pipeline.snapshot import decode_account
from detector.pipeline.state import AccountState
from detector.pipeline.step import Detector, PartitionState, SourceRef, StepResult
from detector.runner import RunStats
from detector.settings import Settings

FIXED_NOW = datetime(2026, 11, 25, tzinfo=UTC)


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    """Poll ``condition`` until true; fail the test naming ``what`` if it never gets there."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.05)


def partition_of(account_id: str, partitions: int) -> int:
    return zlib.crc32(account_id.encode()) % partitions


class Gateway:
    """The API gateway stand-in: sends events to explicit partitions and remembers their offsets."""

    def __init__(self, settings: Settings, partitions: int) -> None:
        self._topic = settings.events_topic
        self._partitions = partitions
        self._producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", linger_ms=5)
        # partition -> raw values in offset order (a fresh topic starts at offset 0)
        self.sent: dict[int, list[bytes]] = {p: [] for p in range(partitions)}

    def send(self, documents: list[dict[str, Any]]) -> None:
        for document in documents:
            account = str(document.get("account_id", ""))
            self.send_raw(account.encode(), orjson.dumps(document), partition_of(account, self._partitions))
        self._producer.flush()

    def send_raw(self, key: bytes | None, value: bytes, partition: int) -> None:
        self._producer.send(self._topic, key=key, value=value, partition=partition)
        self.sent[partition].append(value)

    def flush(self) -> None:
        self._producer.flush()

    @property
    def total(self) -> int:
        return sum(len(values) for values in self.sent.values())

    def close(self) -> None:
        self._producer.flush()
        self._producer.close()


def committed(settings: Settings, partitions: int) -> dict[int, int]:
    """The group's committed offset per partition (0 when none)."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=settings.group_id, enable_auto_commit=False
    )
    try:
        return {
            p: consumer.committed(TopicPartition(settings.events_topic, p)) or 0 for p in range(partitions)
        }
    finally:
        consumer.close(autocommit=False)


@dataclass(frozen=True, slots=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]


def read_topic(settings: Settings, topic: str, expected: int = 0, timeout_s: float = 30.0) -> list[Record]:
    """Every record of ``topic`` from the start: until ``expected`` arrived, or until the end."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        consumer.assign(tps)
        consumer.seek_to_beginning()
        records: list[Record] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for tp, batch in consumer.poll(timeout_ms=200).items():
                records.extend(
                    Record(tp.partition, r.offset, r.key, r.value, dict(r.headers or [])) for r in batch
                )
            at_end = all(
                consumer.highwater(tp) is not None and consumer.position(tp) >= (consumer.highwater(tp) or 0)
                for tp in tps
            )
            if len(records) >= expected and at_end:
                break
        return records
    finally:
        consumer.close(autocommit=False)


def final_changelog(settings: Settings) -> dict[str, AccountState]:
    """The accounts store as compaction would leave it: the last record per key, tombstones applied."""
    accounts: dict[str, AccountState] = {}
    for record in read_topic(settings, changelog_topic(settings)):
        assert record.key is not None
        account_id = record.key.decode()
        if record.value is None:
            accounts.pop(account_id, None)
        else:
            accounts[account_id] = decode_account(account_id, record.value)
    return accounts


# --- workers ---------------------------------------------------------------------------------------
@dataclass
class Ownership:
    """When each worker held which partition's state, and when it processed which partition."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    held: list[tuple[float, str, str, int]] = field(default_factory=list)  # (t, worker, install|drop, p)
    processed: list[tuple[float, str, int]] = field(default_factory=list)  # (t, worker, partition)

    def intervals(self, worker: str, partition: int) -> list[tuple[float, float]]:
        spans: list[tuple[float, float]] = []
        start: float | None = None
        for t, who, kind, p in sorted(self.held):
            if who != worker or p != partition:
                continue
            if kind == "install" and start is None:
                start = t
            elif kind == "drop" and start is not None:
                spans.append((start, t))
                start = None
        if start is not None:
            spans.append((start, float("inf")))
        return spans


class RecordingDetector(Detector):
    """The real detector, noting when it takes or gives up a partition's state and processes,
    and keeping the alerts it decided on."""

    def __init__(self, settings: Settings, name: str = "worker", log: Ownership | None = None) -> None:
        super().__init__(settings, clock=lambda: FIXED_NOW)
        self.name = name
        self._log = log or Ownership()
        self.alerts: list[Alert] = []

    def _note(self, kind: str, number: int | None) -> None:
        if number is not None:
            with self._log.lock:
                self._log.held.append((time.monotonic(), self.name, kind, number))

    def process_one(self, raw: bytes, source: SourceRef | None = None) -> StepResult:
        if source is not None and source.partition is not None:
            with self._log.lock:
                self._log.processed.append((time.monotonic(), self.name, source.partition))
        result = super().process_one(raw, source)
        self.alerts.extend(result.alerts)
        return result

    def restore_partition(self, number: int | None, accounts: Any) -> PartitionState:
        owned = super().restore_partition(number, accounts)
        self._note("install", number)
        return owned

    def adopt_partition(self, number: int | None, owned: PartitionState) -> None:
        super().adopt_partition(number, owned)
        self._note("install", number)

    def drop_partition(self, number: int | None) -> PartitionState | None:
        dropped = super().drop_partition(number)
        if dropped is not None:
            self._note("drop", number)
        return dropped


class WorkerThread:
    """``detector run``'s wiring (``start_worker``) in a thread, stoppable like SIGTERM stops it."""

    def __init__(self, settings: Settings, detector: Detector | None = None) -> None:
        self.metrics = Metrics()
        self.detector = detector or Detector(settings, clock=lambda: FIXED_NOW)
        self.stop = threading.Event()
        self.stats: RunStats | None = None
        self.error: BaseException | None = None
        worker = start_worker(settings, self.detector, self.metrics, self.stop)
        assert worker is not None
        self.worker: KafkaWorker = worker
        self._thread = threading.Thread(target=self._run, name="worker")
        self._thread.start()

    def _run(self) -> None:
        try:
            self.stats = self.worker.run()
        except BaseException as error:  # surfaced by wait_until / shutdown
            self.error = error
            raise
        finally:
            self.worker.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def wait_until(self, condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
        def check() -> bool:
            assert self.error is None, f"worker died: {self.error!r}"
            assert self.alive, "worker thread ended"
            return condition()

        wait_for(check, what, timeout_s)

    def counter(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    def shutdown(self) -> RunStats:
        self.stop.set()
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "worker did not stop"
        assert self.error is None, f"worker died: {self.error!r}"
        assert self.stats is not None
        return self.stats


def worker_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment an operator would give ``detector run`` for these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DETECTOR_")}
    for name, value in settings.model_dump().items():
        if value is not None and not hasattr(value, "get_secret_value"):
            env[f"DETECTOR_{name.upper()}"] = str(value)
    env.update(overrides)
    return env


class ProcessWorker:
    """``detector run`` as a process; its JSON log lines go to a file that survives ``kill -9``."""

    def __init__(self, settings: Settings, log_path: Path, **env: str) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in wait()/kill9()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "detector", "run"],
            env=worker_env(settings, DETECTOR_METRICS_PORT="0", **env),
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log.close()

    def terminate(self, timeout_s: float = 60.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout_s)
        self._log.close()
        return code

    def ensure_stopped(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        if not self._log.closed:
            self._log.close()

    def events(self) -> list[dict[str, Any]]:
        """The structured log lines written so far (non-JSON lines, e.g. kafka-python's, skipped)."""
        out = []
        for line in self.log_path.read_bytes().splitlines():
            with contextlib.suppress(orjson.JSONDecodeError):
                parsed = orjson.loads(line)
                if isinstance(parsed, dict):
                    out.append(parsed)
        return out


# --- a broker whose produce path to one topic can be held ------------------------------------------
PRODUCE = 0
OFFSET_COMMIT = 8


class RequestStall:
    """TCP proxy in front of the broker that, while engaged, holds every request of one API
    (Produce naming one topic, e.g. the alerts topic; or OffsetCommit): a broker that does not
    acknowledge them, from the client's side. Other requests pass untouched — except those queued
    behind a held one on the same connection, as on a real stuck broker."""

    def __init__(self, listen_port: int, target_port: int, api_key: int, topic: str | None = None) -> None:
        self._listen_port = listen_port
        self._target_port = target_port
        self._api_key = api_key.to_bytes(2, "big")
        self._topic = topic.encode() if topic else b""
        self.engaged = threading.Event()
        self.held = 0  # requests held so far
        self._holding = 0  # requests held right now
        self._dropping = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()  # open connections, closed on stop
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="produce-stall", daemon=True)

    def start(self) -> RequestStall:
        self._thread.start()
        assert self._started.wait(10), "proxy did not start"
        return self

    def stop(self) -> None:
        self.engaged.clear()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def drop_held(self) -> None:
        """Lose the held requests with their connections (the client that sent them is gone)."""
        self._dropping.set()
        wait_for(lambda: self._holding == 0, "held requests dropped", timeout_s=10)
        self._dropping.clear()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self._listen_port)
        )
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            # Let every handler finish (and close its sockets) before the loop goes: a writer
            # collected after the loop closed warns, and pytest fails whichever test is running.
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            for writer in list(self._writers):
                writer.close()
            self._writers.clear()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._writers.add(client_w)
        try:
            broker_r, broker_w = await asyncio.open_connection("127.0.0.1", self._target_port)
        except OSError:
            client_w.close()
            self._writers.discard(client_w)
            return
        self._writers.add(broker_w)

        async def upstream() -> None:
            while True:
                size = await client_r.readexactly(4)
                body = await client_r.readexactly(int.from_bytes(size, "big"))
                # The request header starts with the api key; a topic name appears verbatim.
                if body[:2] == self._api_key and self._topic in body and self.engaged.is_set():
                    self.held += 1
                    self._holding += 1
                    try:
                        while self.engaged.is_set():
                            if self._dropping.is_set():
                                return  # the request never reaches the broker; connection closed
                            await asyncio.sleep(0.05)
                    finally:
                        self._holding -= 1
                broker_w.write(size + body)
                await broker_w.drain()

        async def downstream() -> None:
            while data := await broker_r.read(65536):
                client_w.write(data)
                await client_w.drain()

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for writer in (client_w, broker_w):
            with contextlib.suppress(Exception):
                writer.close()
            self._writers.discard(writer)


@contextlib.contextmanager
def broker_behind_stall(api_key: int, topic: str | None = None) -> Iterator[tuple[str, RequestStall]]:
    """A private tansu that advertises a proxy's address (so every client goes through it)."""
    broker_port, proxy_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID")
    }
    process = subprocess.Popen(
        [
            broker_binary(),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{broker_port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{proxy_port}",
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    stall = RequestStall(proxy_port, broker_port, api_key, topic).start()
    try:
        import socket

        def listening() -> bool:
            assert process.poll() is None, "broker exited at start"
            try:
                with socket.create_connection(("127.0.0.1", broker_port), timeout=0.2):
                    return True
            except OSError:
                return False

        wait_for(listening, "the private broker to listen", timeout_s=15)
        yield f"127.0.0.1:{proxy_port}", stall
    finally:
        stall.stop()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
