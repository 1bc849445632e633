"""6. Cost growth: events/s with 10k, 100k and 1M accounts tracked, and with campaigns open.

The timed traffic is the same in every case (10k active accounts, real prompts, one core); what
changes is how many other accounts sit in the store (seen once, not yet expired) and how many
cross-account campaigns are open (5 linked members each, calling with a shared template). With
campaigns, 5% of the timed events come from the members of ten of them, whatever the number
open, so campaign cases compare with each other (10 vs 100 vs 1,000 open), not with 0.
Per-event cost must not grow with either.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import Options, Result, log, pick_cpu, run_probe, sim_size, simulated_file
from benchmarks.entry import main_for

NAME = "cost_growth"
TITLE = "Per-event cost against accounts tracked and campaigns open"
ACCOUNTS_FULL = (10_000, 100_000, 1_000_000)
ACCOUNTS_QUICK = (1_000, 10_000)
CAMPAIGNS_FULL = (10, 100, 1_000)
CAMPAIGNS_QUICK = (5,)


def run(options: Options) -> Result:
    size = sim_size(options)
    prompts = simulated_file(size)
    events = 20_000 if options.quick else 200_000
    active = 1_000 if options.quick else 10_000
    cpu = pick_cpu()
    result = Result(NAME, TITLE)
    details: dict[str, Any] = {"timed_events": events, "active_accounts": active, "cpu": cpu, "runs": []}
    cases = [(accounts, 0) for accounts in (ACCOUNTS_QUICK if options.quick else ACCOUNTS_FULL)]
    cases += [(cases[0][0], c) for c in (CAMPAIGNS_QUICK if options.quick else CAMPAIGNS_FULL)]
    rates: dict[tuple[int, int], list[float]] = {case: [] for case in cases}
    for number in range(options.runs):
        for accounts, campaigns in cases:
            log(f"{NAME}: run {number + 1}/{options.runs}: {accounts:,} accounts, {campaigns} campaigns")
            measured = run_probe(
                [
                    "cost",
                    "--accounts",
                    str(accounts),
                    "--active",
                    str(active),
                    "--campaigns",
                    str(campaigns),
                    "--events",
                    str(events),
                    "--prompts",
                    str(prompts),
                ],
                cpu=cpu,
            )
            rates[(accounts, campaigns)].append(measured["events_per_s"])
            details["runs"].append({"accounts": accounts, "campaigns": campaigns, **measured})
    for (accounts, campaigns), runs in rates.items():
        label = f"{accounts:,} accounts tracked" + (f", {campaigns} campaigns open" if campaigns else "")
        result.add(f"{label} (events/s)", runs, "events/s")
    base = rates[cases[0]]
    worst = min((min(r) for r in rates.values()), default=0.0)
    result.details = details
    result.notes.append(
        f"Slowest case / smallest case (medians): "
        f"{min(f.value for f in result.figures) / max(sum(base) / len(base), 1e-9):.2f} "
        f"(worst single run {worst:,.0f} events/s); pinned to cpu {cpu}."
    )
    return result


def main() -> None:
    main_for(run, __doc__ or "")


if __name__ == "__main__":
    main()
