"""A producer whose ``flush`` returns only when everything sent since the last flush is durable.

Used for alerts, dead letters and the state changelog. The messages of one batch are kept until
the broker acknowledged each of them (``acks=all``); ``flush`` then hands back their metadata.
When the brokers are slow, ``flush`` keeps waiting; when deliveries fail (broker down, topic
unavailable, the producer's own ``delivery_timeout_ms`` ran out), the failed messages are re-sent
on a fresh producer after a backoff — a fresh one because an idempotent producer does not recover
from a broker that lost its state. All the while consumption is held (see ``Retry``): the worker
buffers at most one batch, never drops a message, and reports itself not ready.

Re-sending can duplicate a message the broker did store before its acknowledgement was lost;
that is the at-least-once contract: alerts carry ``alert_id``/``revision``, dead letters their
source offset, changelog records are whole values per key.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import structlog
from kafka import KafkaProducer
from kafka.errors import KafkaError

from detector.kafka.retry import Retry, describe_error
from detector.metrics import DELIVERING, Metrics
from detector.settings import Settings

log = structlog.get_logger("detector.kafka")

# One flush waits at most this long before the worker beats, holds the group and looks again.
_FLUSH_SLICE_S = 1.0


class DeliveryError(RuntimeError):
    """The broker did not acknowledge a message and the worker is stopping (or has no retry
    policy); offsets must not be committed."""


@dataclass(slots=True)
class _Outgoing:
    topic: str
    partition: int | None
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None
    future: Any = None  # FutureRecordMetadata, or None when send() itself failed
    error: BaseException | None = None

    @property
    def delivered(self) -> bool:
        return self.future is not None and self.future.succeeded()

    @property
    def failed(self) -> bool:
        return self.future is None or self.future.failed()


class AckedProducer:
    """KafkaProducer + the messages not yet acknowledged + the retry loop around them."""

    def __init__(
        self,
        settings: Settings,
        operation: str,
        metrics: Metrics | None = None,
        retry: Retry | None = None,
        **producer_config: Any,
    ) -> None:
        self._operation = operation
        self._metrics = metrics
        self._retry = retry
        request_timeout_ms = max(1_000, min(30_000, settings.producer_delivery_timeout_ms // 4))
        self._config = {
            **settings.kafka_common_config(),
            "acks": "all",
            "linger_ms": settings.producer_linger_ms,
            "compression_type": None
            if settings.producer_compression == "none"
            else settings.producer_compression,
            "max_request_size": max(1_048_576, settings.max_message_bytes * 2),
            "retries": 2_147_483_647,
            "request_timeout_ms": request_timeout_ms,
            "delivery_timeout_ms": max(
                settings.producer_delivery_timeout_ms, request_timeout_ms + settings.producer_linger_ms
            ),
            "retry_backoff_ms": settings.retry_backoff_ms,
            "reconnect_backoff_ms": settings.retry_backoff_ms,
            "reconnect_backoff_max_ms": settings.retry_backoff_max_ms,
            # send() waits this long for metadata (a broker that is down): short, so the loop
            # keeps turning; the message is then retried by flush().
            "max_block_ms": max(1_000, min(10_000, request_timeout_ms)),
            "allow_auto_create_topics": False,
            **producer_config,
        }
        self._producer: KafkaProducer | None = None
        self._pending: list[_Outgoing] = []
        # After one send() failed, the rest of the batch is only queued: each failing send() can
        # block for max_block_ms, and flush() re-sends them all after a backoff anyway.
        self._blocked = False

    @property
    def pending(self) -> int:
        """Messages handed over since the last successful flush (at most one batch's worth)."""
        return len(self._pending)

    def _client(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(**self._config)
        return self._producer

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
    ) -> None:
        outgoing = _Outgoing(topic, partition, key, value, headers)
        self._pending.append(outgoing)
        if not self._blocked:
            self._dispatch(outgoing)

    def _dispatch(self, outgoing: _Outgoing) -> None:
        try:
            outgoing.future = self._client().send(
                outgoing.topic,
                key=outgoing.key,
                value=outgoing.value,
                headers=outgoing.headers,
                partition=outgoing.partition,
            )
            outgoing.error = None
        except KafkaError as error:  # e.g. metadata not available within max_block_ms
            outgoing.future = None
            outgoing.error = error
            self._blocked = True

    def flush(self) -> list[Any]:
        """Block until every pending message is acknowledged; their RecordMetadata, in send order.

        Raises ``DeliveryError`` only when a stop is requested while messages are still
        unacknowledged (or, without a retry policy, as soon as one fails).
        """
        attempt = 0
        waited_since = time.monotonic()
        while self._pending:
            if self._producer is not None:
                # Not all acknowledged within the slice raises; what is missing is looked at below.
                with contextlib.suppress(KafkaError):
                    self._producer.flush(timeout=_FLUSH_SLICE_S)
            failed = [m for m in self._pending if m.failed]
            if not failed and all(m.delivered for m in self._pending):
                break
            if self._retry is None:
                if failed:
                    raise DeliveryError(self._failure_text(failed))
                continue
            slow = time.monotonic() - waited_since > self._retry.maximum_s
            if failed or slow:
                self._report(delivering=False)
            if not failed:  # slow, not failing: keep waiting, but stay in the group and alive
                if not self._retry.sleep(0.0):
                    raise DeliveryError(f"stopped with {len(self._pending)} {self._operation} unacknowledged")
                continue
            error = failed[0].error or (failed[0].future.exception if failed[0].future else None)
            if not self._retry.wait(self._operation, attempt, error):
                raise DeliveryError(f"stopped while retrying: {self._failure_text(failed)}")
            attempt += 1
            self._resend()
        delivered = [m.future.value for m in self._pending]
        self._pending.clear()
        self._report(delivering=True)
        return delivered

    def _resend(self) -> None:
        """Re-send everything not yet acknowledged, on a fresh producer."""
        self._close_producer(timeout_s=0.0)
        self._blocked = False
        for outgoing in self._pending:
            if self._blocked:
                break
            if not outgoing.delivered:
                self._dispatch(outgoing)

    def _failure_text(self, failed: list[_Outgoing]) -> str:
        first = failed[0]
        error = first.error or (first.future.exception if first.future else None)
        return f"{len(failed)} {self._operation} messages not acknowledged: {describe_error(error)}"

    def _report(self, delivering: bool) -> None:
        if self._metrics:
            self._metrics.condition(DELIVERING, delivering)

    def _close_producer(self, timeout_s: float) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=timeout_s)
            except KafkaError as error:
                log.warning("producer_close_failed", operation=self._operation, error=describe_error(error))

    def close(self, timeout_s: float = 10.0) -> None:
        self._close_producer(timeout_s)
