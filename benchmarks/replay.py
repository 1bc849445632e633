"""1. Replay throughput on one core: ``detector replay`` over a simulated file of >= 1M events.

Reference, measured in the same run on the same (pinned) core: only reading the same file line by
line and decoding each line with orjson. Both are separate processes pinned with ``taskset``;
the replay figure is the one the command itself prints (``events_per_s``: the processing loop,
without interpreter start-up and imports); the whole command's wall time is recorded too.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

from benchmarks.common import (
    CODE,
    Options,
    Result,
    count_lines,
    log,
    pick_cpu,
    quiet_env,
    run_probe,
    sim_size,
    simulated_file,
)
from benchmarks.entry import main_for

NAME = "replay"
TITLE = "Replay throughput, one core"

_SUMMARY = re.compile(rb"replay: events=(\d+) .*alerts=(\d+) events_per_s=([\d,]+)")


def replay_once(path: str, cpu: int) -> tuple[float, float, int, int]:
    """(events/s as printed, wall seconds of the whole command, events, alerts)."""
    started = time.perf_counter()
    done = subprocess.run(
        [
            "taskset",
            "-c",
            str(cpu),
            sys.executable,
            "-m",
            "detector",
            "replay",
            "--input",
            path,
            "--output",
            "/dev/null",
        ],
        capture_output=True,
        env=quiet_env(),
        cwd=CODE,  # `python -m detector` imports the package from here
        check=True,
    )
    wall = time.perf_counter() - started
    found = _SUMMARY.search(done.stderr)
    if found is None:
        raise RuntimeError(f"no replay summary in: {done.stderr[-2000:]!r}")
    return float(found.group(3).replace(b",", b"")), wall, int(found.group(1)), int(found.group(2))


def run(options: Options) -> Result:
    size = sim_size(options)
    path = simulated_file(size)
    events = count_lines(path)
    cpu = pick_cpu()
    result = Result(NAME, TITLE)
    rates: list[float] = []
    walls: list[float] = []
    references: list[float] = []
    alerts = 0
    for number in range(options.runs):
        log(f"{NAME}: run {number + 1}/{options.runs} on cpu {cpu} ({events:,} events)")
        references.append(run_probe(["read-decode", str(path)], cpu=cpu)["events_per_s"])
        rate, wall, replayed, alerts = replay_once(str(path), cpu)
        rates.append(rate)
        walls.append(replayed / wall)
    result.add("detector replay (events/s)", rates, "events/s", reference="read + orjson only")
    result.add("detector replay incl. start-up and imports (events/s)", walls, "events/s")
    result.add("read + orjson.loads only (events/s)", references, "events/s")
    result.add("replay / read+decode", [r / ref for r, ref in zip(rates, references, strict=True)], "ratio")
    result.details = {"file": path.name, "events": events, "alerts": alerts, "cpu": cpu}
    result.notes.append(
        f"{events:,} simulated events (with prompt text) from `detector simulate --hours "
        f"{size.hours:g} --accounts {size.accounts} --seed 42`; both processes pinned to cpu {cpu}."
    )
    return result


def main() -> None:
    main_for(run, __doc__ or "")


if __name__ == "__main__":
    main()
