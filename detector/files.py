"""File edge for ``detector replay``: JSONL events in, JSONL alerts out (``-`` = stdio, ``.gz`` ok)."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator, Sequence
from typing import IO

import orjson

from detector.events import Alert, Rejected
from detector.formats import encode_alert, prepare
from detector.pipeline.coordination import Fingerprint
from detector.pipeline.step import SourceRef
from detector.runner import SourceRecord
from detector.settings import Settings


def open_input(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    if path.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]  # GzipFile is a binary IO
    return open(path, "rb")


def open_output(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdout.buffer
    if path.endswith(".gz"):
        return gzip.open(path, "wb")  # type: ignore[return-value]  # GzipFile is a binary IO
    return open(path, "wb")


class FileSource:
    """Lines of a JSONL file as records; the line number stands in for the offset."""

    def __init__(self, stream: IO[bytes], batch_size: int = 2_000, name: str = "file") -> None:
        self._stream = stream
        self._lines: Iterator[bytes] = iter(stream)
        self._batch_size = batch_size
        self._name = name
        self._line = 0
        self._exhausted = False

    def poll(self) -> Sequence[SourceRecord]:
        batch: list[SourceRecord] = []
        append = batch.append
        name = self._name
        line_number = self._line
        size = self._batch_size
        for raw in self._lines:
            line_number += 1
            line = raw.rstrip(b"\r\n")
            if not line or line.isspace():  # = not line.strip(), without the copy
                continue
            append(SourceRecord(line, SourceRef(topic=name, offset=line_number)))
            if len(batch) >= size:
                self._line = line_number
                return batch
        self._line = line_number
        self._exhausted = True
        return batch

    def commit(self, batch: Sequence[SourceRecord]) -> None:
        """Files have no offsets to commit; a replay is re-run from the start."""

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def unread_partitions(self) -> set[int | None]:
        """A file is read in order: nothing of it is ahead of or behind another part."""
        return set()

    def close(self) -> None:
        if self._stream is not sys.stdin.buffer:
            self._stream.close()


class FileSink:
    """Alerts as JSON lines on one stream; dead letters (with reasons) on an optional second one."""

    def __init__(
        self, alerts: IO[bytes], dead_letters: IO[bytes] | None = None, settings: Settings | None = None
    ) -> None:
        self._alerts = alerts
        self._dead_letters = dead_letters
        # The alert format of ``settings`` (native without); a file has no headers to carry
        # CloudEvents attributes, so those are Kafka-only.
        self._settings = settings
        if settings is not None:
            prepare(settings)

    def send_alert(self, alert: Alert) -> None:
        body = (
            alert.model_dump_json().encode()
            if self._settings is None
            else encode_alert(alert, self._settings)
        )
        self._alerts.write(body + b"\n")

    def send_fingerprint(self, fingerprint: Fingerprint) -> None:
        """Replay runs the coordination stage inline; there is no internal topic to write."""

    def send_dead_letter(self, rejected: Rejected) -> None:
        if self._dead_letters is not None:
            self._dead_letters.write(dead_letter_json(rejected) + b"\n")

    def flush(self) -> None:
        self._alerts.flush()
        if self._dead_letters is not None:
            self._dead_letters.flush()

    def close(self) -> None:
        self.flush()
        for stream in (self._alerts, self._dead_letters):
            if stream is not None and stream not in (sys.stdout.buffer, sys.stderr.buffer):
                stream.close()


def dead_letter_json(rejected: Rejected) -> bytes:
    """A dead letter as one JSON object (the raw bytes as latin-1 text so any bytes round-trip)."""
    return orjson.dumps(
        {
            "reason": rejected.reason,
            "detail": rejected.detail,
            "source_topic": rejected.source_topic,
            "source_partition": rejected.source_partition,
            "source_offset": rejected.source_offset,
            "raw_latin1": rejected.raw.decode("latin-1"),
        }
    )
