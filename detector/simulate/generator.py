"""``generate(scenario, seed)``: plans the accounts now, streams their events on demand.

``Simulation.events()`` merges one lazy generator per account with a heap, so a million-event
stream never sits in memory, and it is deterministic: each account (and each of its behaviour
segments) draws from its own random streams seeded by ``(seed, account, segment)``, the merge
breaks time ties by account and sequence number, and event ids come from a seeded stream plus a
counter. Calling ``events()`` twice gives the same stream.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from detector.simulate.behaviours import segment_events
from detector.simulate.population import AccountPlan, plan_accounts
from detector.simulate.reference import load_reference
from detector.simulate.scenario import Scenario
from detector.simulate.variants import plan_wide_accounts

_Item = tuple[int, int, int, dict[str, Any]]
"""(epoch ms, account slot, sequence within the account, event): unique before the event."""


def format_timestamp(epoch_ms: int) -> str:
    """RFC 3339, UTC, milliseconds, ``Z`` — the one timestamp format the simulator writes."""
    seconds, ms = divmod(epoch_ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}Z"


class _TimestampFormatter:
    """Formats ordered timestamps fast: the date-and-minute prefix is reused while it holds."""

    def __init__(self) -> None:
        self._minute = -1
        self._prefix = ""

    def __call__(self, epoch_ms: int) -> str:
        minute, rest = divmod(epoch_ms, 60_000)
        if minute != self._minute:
            self._minute = minute
            self._prefix = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")
        seconds, ms = divmod(rest, 1000)
        return f"{self._prefix}{seconds:02d}.{ms:03d}Z"


class Simulation:
    """A planned simulation: its labels now, its events when iterated."""

    def __init__(self, scenario: Scenario, seed: int, plans: list[AccountPlan]) -> None:
        self.scenario = scenario
        self.seed = seed
        self._plans = plans
        self._start_ms = int(scenario.start.timestamp() * 1000)
        self.labels: list[dict[str, Any]] = [
            {
                "account_id": p.identity.account_id,
                "campaign_id": p.campaign_id,
                "style": p.kind,
                "start": format_timestamp(self._start_ms + int(1000 * (p.attack_t0 or 0.0))),
                "end": format_timestamp(self._start_ms + int(1000 * (p.attack_t1 or 0.0))),
                "variant": p.variant,
                "evasion": p.evasion,
                "end_user_id": p.end_user_id,
            }
            for p in sorted(plans, key=lambda p: (p.campaign_id or "", p.identity.account_id))
            if p.attacking
        ]
        """One entry per attacking account; start/end bound its campaign activity."""
        self.benign_kinds: dict[str, str] = {
            p.identity.account_id: p.kind
            for p in sorted(plans, key=lambda p: p.identity.account_id)
            if not p.attacking
        }
        """Every benign account with its kind: "benign", "launch_adopter" or a hard-negative kind."""

    @property
    def accounts(self) -> int:
        """Number of accounts, attacking or not."""
        return len(self._plans)

    def _account_stream(self, slot: int, plan: AccountPlan, include_text: bool) -> Iterator[_Item]:
        qp = load_reference().quantile_probs
        streams = []
        for number, segment in enumerate(plan.segments):
            np_rng = np.random.default_rng([self.seed, plan.seed_key, number])
            rng = random.Random((self.seed * 1_000_003 + plan.seed_key) * 64 + number)
            streams.append(
                segment_events(
                    segment,
                    np_rng=np_rng,
                    rng=rng,
                    start_ms=self._start_ms,
                    quantile_probs=qp,
                    include_text=include_text,
                )
            )
        merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda item: item[0])
        for seq, (ts, event) in enumerate(merged):
            yield ts, slot, seq, event

    def events(self) -> Iterator[dict[str, Any]]:
        """Every event of the scenario, sorted by timestamp, as JSON-ready dicts (contract v1)."""
        include_text = self.scenario.include_prompt_text
        streams = [
            self._account_stream(slot, plan, include_text)
            for slot, plan in enumerate(self._plans)
            if plan.segments
        ]
        ids = random.Random(self.seed * 7_919 + 3)
        fmt = _TimestampFormatter()
        getrandbits = ids.getrandbits
        for counter, (ts, _, _, event) in enumerate(heapq.merge(*streams)):
            h = f"{(getrandbits(80) << 48) | counter:032x}"
            event["event_id"] = (
                f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
            )
            event["timestamp"] = fmt(ts)
            yield event

    def write_labels(self, path: str | Path) -> None:
        """Write the ground truth next to the events: seed, scenario, campaigns, benign kinds."""
        payload = {
            "seed": self.seed,
            "scenario": self.scenario.model_dump(mode="json"),
            "campaigns": self.labels,
            "benign_kinds": self.benign_kinds,
        }
        Path(path).write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")


def generate(scenario: Scenario, seed: int = 0) -> Simulation:
    """Plan every account of ``scenario`` with ``seed`` (≥ 0); events stream from the result."""
    if seed < 0:
        raise ValueError("seed must be >= 0")
    planner = plan_accounts if scenario.split is None else plan_wide_accounts
    return Simulation(scenario, seed, planner(scenario, seed, load_reference()))
