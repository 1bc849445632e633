"""2. End-to-end Kafka throughput: events topic -> detector -> alerts produced -> offsets committed.

The worker is the production code (``Detector``, ``KafkaSource``, ``KafkaSink``, ``run_loop``,
``Metrics``) in a process of its own, one consumer-group member, measured from its first batch's
arrival to its last commit (group join excluded). Reference, in the same run on the same broker
and topic: a bare kafka-python consumer (no group, no decoding, no commits) draining the topic.
"""

from __future__ import annotations

import uuid

from benchmarks.common import Options, Result, log, run_probe, sim_size, simulated_file
from benchmarks.entry import main_for
from benchmarks.kafka_setup import PARTITIONS, broker_with_topics, fill, worker_args

NAME = "kafka_throughput"
TITLE = "End-to-end Kafka throughput (local tansu broker)"
EVENTS_FULL = 300_000
EVENTS_QUICK = 20_000


def run(options: Options) -> Result:
    size = sim_size(options)
    path = simulated_file(size)
    count = EVENTS_QUICK if options.quick else EVENTS_FULL
    result = Result(NAME, TITLE)
    workers: list[float] = []
    bares: list[float] = []
    alerts = 0
    with broker_with_topics() as topics:
        produced = fill(topics, path, count)
        count = produced["events"]  # the file may hold fewer (quick mode)
        for number in range(options.runs):
            log(f"{NAME}: run {number + 1}/{options.runs}")
            bare = run_probe(
                [
                    "bare-consume",
                    "--bootstrap",
                    topics.bootstrap,
                    "--topic",
                    topics.events,
                    "--expect",
                    str(count),
                ]
            )
            bares.append(bare["events_per_s"])
            group = f"bench-{uuid.uuid4().hex[:8]}"
            measured = run_probe(worker_args(topics, group, "--expect", str(count)))
            workers.append(measured["events_per_s"])
            alerts = measured["alerts"]
    result.add("detector worker, 1 process (events/s)", workers, "events/s", reference="bare consumer")
    result.add("bare kafka-python consumer (events/s)", bares, "events/s")
    result.add(
        "worker / bare consumer",
        [w / b for w, b in zip(workers, bares, strict=True)],
        "ratio",
        note="goal >= 0.5",
    )
    result.details = {
        "events": count,
        "partitions": PARTITIONS,
        "alerts_per_run": alerts,
        "producer_events_per_s": produced["events_per_s"],
    }
    result.notes.append(
        f"{count:,} simulated events (~1 KB each, with prompt text) in a {PARTITIONS}-partition topic; "
        "broker, worker and reference share the machine's cores."
    )
    return result


def main() -> None:
    main_for(run, __doc__ or "")


if __name__ == "__main__":
    main()
