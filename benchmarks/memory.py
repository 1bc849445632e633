"""4. Memory: resident bytes per tracked account at 100k and 1M accounts; flat per-account state.

Each figure comes from a fresh process that feeds one valid event (with a prompt) per account
through ``Detector.process_one`` and reads its resident set size (VmRSS) before and after; the
deduplication window is switched off here because it is a fixed cost (bounded by
``DETECTOR_DEDUP_WINDOW_EVENTS``), not a per-account one, and is measured separately. A second
probe feeds one account 100k events and records the size of its state as it grows. Idle accounts
expire: eight days of event time later only the new traffic's accounts are still tracked.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import Options, Result, log, run_probe, sim_size, simulated_file
from benchmarks.entry import main_for

NAME = "memory"
TITLE = "Memory per tracked account"
ACCOUNTS_FULL = (100_000, 1_000_000)
ACCOUNTS_QUICK = (5_000,)


def run(options: Options) -> Result:
    size = sim_size(options)
    prompts = simulated_file(size)
    result = Result(NAME, TITLE)
    details: dict[str, Any] = {}
    for accounts in ACCOUNTS_QUICK if options.quick else ACCOUNTS_FULL:
        log(f"{NAME}: {accounts:,} accounts")
        measured = run_probe(["memory", "--accounts", str(accounts), "--prompts", str(prompts)])
        result.add(
            f"resident bytes per account at {accounts:,} accounts",
            [measured["bytes_per_account"]],
            "B",
            note="goal <= 2048 B",
        )
        details[f"{accounts}"] = measured
    growth_events = 2_000 if options.quick else 100_000
    log(f"{NAME}: one account, {growth_events:,} events")
    growth = run_probe(["state-growth", "--events", str(growth_events), "--prompts", str(prompts)])
    points = growth["points"]
    result.add("state of one account after 1 event (pickled bytes)", [points[0]["pickle_bytes"]], "B")
    result.add(
        f"state of one account after {points[-1]['events']:,} events (pickled bytes)",
        [points[-1]["pickle_bytes"]],
        "B",
    )
    result.add(
        f"state of one account after {points[-1]['events']:,} events (deep in-memory bytes)",
        [points[-1]["deep_bytes"]],
        "B",
    )
    details["state_growth"] = points
    result.details = details
    last = details[str((ACCOUNTS_QUICK if options.quick else ACCOUNTS_FULL)[-1])]
    result.notes.append(
        f"Idle accounts expire: after {last['accounts']:,} accounts and eight days of event time, "
        f"{last['tracked_after_ttl']:,} accounts are tracked (the new traffic's)."
    )
    result.notes.append(
        "Resident bytes include the interpreter's allocator overhead and the account-id strings; "
        "the deduplication window (off here) adds a fixed ~100 B per remembered event id."
    )
    return result


def main() -> None:
    main_for(run, __doc__ or "")


if __name__ == "__main__":
    main()
