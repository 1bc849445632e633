"""3. Processing latency at a steady 10k events/s: event arrival at the consumer -> alert acked.

A producer process publishes simulated events at a steady rate to a topic the worker has already
joined. The worker (production code, instrumented) notes when each polled batch arrived, when the
broker acknowledged the batch's alerts (``flush``) and when its offsets were committed. Reported:
p50/p99 over alerts (arrival -> alert acknowledged) and over all events (arrival -> committed,
the at-least-once "done" point, which every event reaches whether it alerts or not).
"""

from __future__ import annotations

import uuid
from typing import Any

from benchmarks.common import CACHE, Options, Result, log, percentile, sim_size, simulated_file
from benchmarks.entry import main_for
from benchmarks.kafka_setup import broker_with_topics, finish_probe, start_probe, wait_for_file, worker_args

NAME = "latency"
TITLE = "Event-to-alert latency at a steady 10k events/s"
RATE = 10_000
SECONDS_FULL = 60
SECONDS_QUICK = 5


def run(options: Options) -> Result:
    size = sim_size(options)
    path = simulated_file(size)
    seconds = SECONDS_QUICK if options.quick else SECONDS_FULL
    count = RATE * seconds
    result = Result(NAME, TITLE)
    p50s: list[float] = []
    p99s: list[float] = []
    e50s: list[float] = []
    e99s: list[float] = []
    achieved: list[float] = []
    details: dict[str, Any] = {"rate": RATE, "seconds": seconds, "runs": []}
    for number in range(options.runs):
        log(f"{NAME}: run {number + 1}/{options.runs} ({count:,} events at {RATE:,}/s)")
        with broker_with_topics() as topics:
            ready = CACHE / f"ready-{uuid.uuid4().hex[:8]}"
            worker = start_probe(
                worker_args(
                    topics,
                    f"bench-lat-{uuid.uuid4().hex[:8]}",
                    "--ready-file",
                    str(ready),
                    "--idle-exit",
                    "5",
                )
            )
            wait_for_file(ready, timeout=60)
            producer = start_probe(
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
                    "--rate",
                    str(RATE),
                ]
            )
            produced = finish_probe(producer)
            measured = finish_probe(worker)
            ready.unlink(missing_ok=True)
        per_event = [
            latency
            for latency, size_ in zip(measured["event_latencies"], measured["batch_sizes"], strict=True)
            for _ in range(size_)
        ]
        alerts = measured["alert_latencies"]
        p50s.append(percentile(alerts, 50) * 1000)
        p99s.append(percentile(alerts, 99) * 1000)
        e50s.append(percentile(per_event, 50) * 1000)
        e99s.append(percentile(per_event, 99) * 1000)
        achieved.append(produced["events_per_s"])
        details["runs"].append(
            {
                "alerts": len(alerts),
                "events": measured["events"],
                "producer_events_per_s": produced["events_per_s"],
                "mean_batch": sum(measured["batch_sizes"]) / max(len(measured["batch_sizes"]), 1),
                "max_event_latency_ms": max(per_event, default=0.0) * 1000,
            }
        )
    result.add("alert latency p50 (ms)", p50s, "ms", note="arrival at the consumer -> alert acknowledged")
    result.add("alert latency p99 (ms)", p99s, "ms", note="goal <= 1000 ms")
    result.add("event latency p50 (ms)", e50s, "ms", note="arrival -> offsets committed")
    result.add("event latency p99 (ms)", e99s, "ms")
    result.add("offered rate (events/s)", achieved, "events/s")
    result.details = details
    alerts_per_run = [run_["alerts"] for run_ in details["runs"]]
    result.notes.append(
        f"Alerts per run: {', '.join(map(str, alerts_per_run))} (the alert percentiles rest on these); "
        "the event latency covers every event and bounds the alert one (an alert is acknowledged "
        "before its batch is committed). The worker polls up to 2,000 records per batch."
    )
    return result


def main() -> None:
    main_for(run, __doc__ or "")


if __name__ == "__main__":
    main()
