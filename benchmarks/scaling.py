"""5. Scaling: throughput with 1, 2 and 4 worker processes in one consumer group.

All members start together on a filled topic; each logs its commits. The figure is the group's
aggregate rate while every member is consuming (after the last one received partitions, until
the first one ran dry), so group joins and rebalances are left out. On a 2-core machine the
broker and the workers share two cores: the ceiling is the core count, not the partitions.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from benchmarks.common import Options, Result, log, sim_size, simulated_file
from benchmarks.entry import main_for
from benchmarks.kafka_setup import (
    PARTITIONS,
    broker_with_topics,
    fill,
    finish_probe,
    start_probe,
    worker_args,
)

NAME = "scaling"
TITLE = "Scaling with worker processes in one consumer group"
EVENTS_FULL = 400_000
EVENTS_QUICK = 20_000
MEMBERS = (1, 2, 4)


def aggregate_rate(outputs: list[dict[str, Any]]) -> tuple[float, float, int]:
    """(events/s while all members consume, seconds of that window, events in it)."""
    timelines = [out["timeline"] for out in outputs if out["timeline"]]
    if not timelines:
        return 0.0, 0.0, 0
    start = max(timeline[0][0] for timeline in timelines)
    end = min(timeline[-1][0] for timeline in timelines)
    if end - start < 1.0:  # a member joined too late to overlap: use the whole makespan
        start = min(timeline[0][0] for timeline in timelines)
        end = max(timeline[-1][0] for timeline in timelines)
    events = sum(n for timeline in timelines for t, n in timeline if start < t <= end)
    seconds = end - start
    return (events / seconds if seconds > 0 else 0.0), seconds, events


def run(options: Options) -> Result:
    size = sim_size(options)
    path = simulated_file(size)
    count = EVENTS_QUICK if options.quick else EVENTS_FULL
    result = Result(NAME, TITLE)
    rates: dict[int, list[float]] = {n: [] for n in MEMBERS}
    details: dict[str, Any] = {"partitions": PARTITIONS, "cores": os.cpu_count(), "runs": []}
    with broker_with_topics() as topics:
        count = fill(topics, path, count)["events"]
        for number in range(options.runs):
            for members in MEMBERS:
                log(f"{NAME}: run {number + 1}/{options.runs}, {members} member(s)")
                group = f"bench-scale-{uuid.uuid4().hex[:8]}"
                processes = [
                    start_probe(worker_args(topics, group, "--idle-exit", "6")) for _ in range(members)
                ]
                outputs = [finish_probe(process) for process in processes]
                rate, seconds, events = aggregate_rate(outputs)
                rates[members].append(rate)
                details["runs"].append(
                    {
                        "members": members,
                        "events_per_s": rate,
                        "window_seconds": seconds,
                        "window_events": events,
                        "processed_per_member": [out["events"] for out in outputs],
                    }
                )
    for members in MEMBERS:
        result.add(f"{members} worker process(es) (events/s)", rates[members], "events/s")
    one = result.figure("1 worker process(es) (events/s)").value
    for members in MEMBERS[1:]:
        result.add(
            f"speed-up with {members} vs 1",
            [r / one for r in rates[members]] if one else [],
            "x",
        )
    details["events"] = count
    result.details = details
    result.notes.append(
        f"{os.cpu_count()} cores shared by the broker and every worker: beyond the core count more "
        "members cannot add throughput here; the partitions (here "
        f"{PARTITIONS}) are the limit on a machine with more cores."
    )
    return result


def main() -> None:
    main_for(run, __doc__ or "")


if __name__ == "__main__":
    main()
