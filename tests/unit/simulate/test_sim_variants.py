"""Evaluation worlds: each attack variant and look-alike produces the shape its label promises."""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import orjson
import pytest

from detector.events import ApiCallEvent
from detector.simulate import Simulation, generate
from detector.simulate.reference import load_wide_pools
from detector.simulate.splits import SPLITS, split_sources
from detector.simulate.variants import evaluation_scenario
from detector.simulate.wording import compose_template, compose_templates

HOURS = 26.0
ACCOUNTS = 30


@dataclass
class Seen:
    """What one account sent, kept small (prompts only where a test needs them)."""

    events: int = 0
    orgs: set[str | None] = field(default_factory=set)
    systems: set[str | None] = field(default_factory=set)
    uas: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)
    models: list[tuple[float, str]] = field(default_factory=list)
    end_users: set[str | None] = field(default_factory=set)
    messages: set[int] = field(default_factory=set)
    temperatures: set[float | None] = field(default_factory=set)
    prompts: list[str] = field(default_factory=list)
    max_bytes: int = 0
    days: set[int] = field(default_factory=set)


@dataclass
class World:
    simulation: Simulation
    seen: dict[str, Seen]

    def accounts(self, style: str, variant: str | None = None, evasion: str | None = None) -> list[str]:
        return [
            label["account_id"]
            for label in self.simulation.labels
            if label["style"] == style
            and (variant is None or label["variant"] == variant)
            and label["evasion"] == evasion
        ]

    def kind(self, kind: str) -> list[str]:
        return [a for a, k in self.simulation.benign_kinds.items() if k == kind]


@cache
def _world(split: str, seed: int, include_text: bool = True) -> World:
    scenario = evaluation_scenario(
        split,  # type: ignore[arg-type]
        seed,
        hours=HOURS,
        benign_accounts=ACCOUNTS,
        include_prompt_text=include_text,
    )
    simulation = generate(scenario, seed=seed)
    seen: dict[str, Seen] = defaultdict(Seen)
    for event in simulation.events():
        s = seen[event["account_id"]]
        s.events += 1
        s.orgs.add(event["org_id"])
        s.systems.add(event["system_prompt_hash"])
        s.uas.add(event["user_agent"])
        s.ips.add(event["client_ip"])
        s.end_users.add(event.get("end_user_id"))
        s.messages.add(event["messages"])
        s.temperatures.add(event["params"]["temperature"])
        at = datetime.fromisoformat(event["timestamp"]).timestamp()
        s.days.add(int(at // 86400))
        s.models.append((at, event["model"]))
        if event["prompt"] is not None and len(s.prompts) < 40:
            s.prompts.append(event["prompt"])
        if event["prompt"] is not None and len(event["prompt"]) > 60_000:
            s.max_bytes = max(s.max_bytes, len(orjson.dumps(event)))
            s.prompts[-1:] = [event["prompt"]]
    return World(simulation, dict(seen))


@pytest.fixture(scope="module", params=["tuning", "unseen"])
def world(request: pytest.FixtureRequest) -> World:
    return _world(request.param, 3)


def test_system_prompt_campaign_hides_the_instruction_and_sends_bare_items(world: World) -> None:
    """One shared system prompt hash over org-less new accounts; the user turn is a dataset item."""
    split = SPLITS[world.simulation.scenario.split or "tuning"]
    items = {t for name in split.instruction for t in load_wide_pools()[name].texts}
    accounts = [a for a in world.accounts("system_prompt_elicitation") if a in world.seen]
    assert len(accounts) >= 3
    hashes = set().union(*(world.seen[a].systems for a in accounts))
    assert len(hashes) == 1 and None not in hashes
    assert all(world.seen[a].orgs == {None} for a in accounts)
    prompts = [p for a in accounts for p in world.seen[a].prompts]
    assert prompts and all(p in items for p in prompts)


def test_router_distiller_carries_its_end_user_id_only_where_promised(world: World) -> None:
    """With ids: the label names the distilling end user and its events carry it; without: no id."""
    labels = {
        label["variant"]: label for label in world.simulation.labels if label["style"] == "router_mixed"
    }
    with_ids, without = labels["end_user_id"], labels["no_end_user_id"]
    assert with_ids["end_user_id"] is not None and without["end_user_id"] is None
    users = world.seen[with_ids["account_id"]].end_users
    assert with_ids["end_user_id"] in users and len(users) > 20
    assert world.seen[without["account_id"]].end_users == {None}
    assert any(len(world.seen[a].end_users) > 20 for a in world.kind("router_end_user_id"))
    assert all(world.seen[a].end_users == {None} for a in world.kind("router") if a in world.seen)


def test_a_young_router_began_only_its_splits_age_before_its_distiller(world: World) -> None:
    """The young router's first call comes the split's router age (at most) before its distiller
    begins, with no end-user ids; the older routers have run since the world began."""
    split = SPLITS[world.simulation.scenario.split or "tuning"]
    (lowest, highest), *_ = split.ranges.router_age_hours
    labels = [label for label in world.simulation.labels if label["style"] == "router_mixed"]
    young = next(label for label in labels if label["variant"] == "young_router")
    first = min(at for at, _ in world.seen[young["account_id"]].models)
    age_hours = (datetime.fromisoformat(young["start"]).timestamp() - first) / 3600
    assert 0.0 <= age_hours <= highest and age_hours >= lowest * 0.5
    assert world.seen[young["account_id"]].end_users == {None}
    world_start = min(at for seen in world.seen.values() for at, _ in seen.models)
    for label in labels:
        if label["variant"] != "young_router":
            older_first = min(at for at, _ in world.seen[label["account_id"]].models)
            assert older_first - world_start < 3600


def test_padded_prompts_pass_64_kib_and_the_event_stays_under_1_mib(world: World) -> None:
    """The padding evasion hides the prompt beyond a 64 KiB scan; the contract still accepts the event."""
    (account,) = world.accounts("bulk_distillation", "evasion_base", "padding")
    seen = world.seen[account]
    big = max(seen.prompts, key=len)
    assert len(big.encode()) > 64 * 1024
    assert 64 * 1024 < seen.max_bytes < 1024 * 1024


def test_split_turn_evasion_sends_the_bare_item_after_earlier_turns(world: World) -> None:
    """The instruction sits in an earlier turn: every call has at least three messages."""
    (account,) = world.accounts("bulk_distillation", "evasion_base", "split_turns")
    assert min(world.seen[account].messages) >= 3


def test_character_evasions_put_their_characters_in_the_prompts(world: World) -> None:
    """Zero-width marks and homoglyphs of the split's own tables appear; translation is not English."""
    ranges = SPLITS[world.simulation.scenario.split or "tuning"].ranges
    (zw,) = world.accounts("bulk_distillation", "evasion_base", "zero_width")
    assert any(any(m in p for m in ranges.zero_width) for p in world.seen[zw].prompts)
    (hg,) = world.accounts("bulk_distillation", "evasion_base", "homoglyph")
    glyphs = {b for _, b in ranges.homoglyphs}
    assert any(glyphs & set(p) for p in world.seen[hg].prompts)
    (tr,) = world.accounts("bulk_distillation", "evasion_base", "translation")
    tails = [
        f.split("{p}")[1] for _, f in SPLITS[world.simulation.scenario.split or "tuning"].wrappers.translated
    ]
    assert all(any(p.endswith(t) for t in tails) for p in world.seen[tr].prompts)


def test_hydra_accounts_are_new_and_org_less(world: World) -> None:
    """A hydra's accounts belong to no organisation."""
    accounts = [a for a in world.accounts("hydra") if a in world.seen]
    assert len(accounts) >= 3
    assert all(world.seen[a].orgs == {None} for a in accounts)


def test_query_set_accounts_send_about_a_hundred_queries(world: World) -> None:
    """Attacking and benign 100-query accounts alike send about 100 calls in their window."""
    accounts = world.accounts("query_set") + world.kind("query_set_benign")
    counts = [world.seen[a].events for a in accounts if a in world.seen]
    assert len(counts) >= 10
    assert 60 <= sorted(counts)[len(counts) // 2] <= 140


def test_launch_pivot_moves_half_its_traffic_to_the_new_model(world: World) -> None:
    """Before the launch only the old model; from the pivot on, about half the calls use the new one."""
    launch = world.simulation.scenario.launch
    assert launch is not None
    (account,) = world.accounts("launch_pivot")
    models = world.seen[account].models
    start = world.simulation.scenario.start.timestamp() + launch.offset_hours * 3600
    assert all(m != launch.model for t, m in models if t < start)
    new = [t for t, m in models if m == launch.model]
    if world.simulation.scenario.split == "tuning":
        assert new  # tuning pivots 1-8 h after a launch at 30-60 % of the world: inside it
    if new:
        after = [m for t, m in models if t >= min(new)]
        assert 0.3 < after.count(launch.model) / len(after) < 0.7


def test_org_fleet_shares_network_agent_and_system_prompt() -> None:
    """An organisation's five accounts: one org, one UA, one system prompt, addresses of one /24."""
    w = _world("tuning", 3)
    accounts = [a for a in w.kind("org_fleet") if a in w.seen]
    assert len(accounts) >= 3
    assert len(set().union(*(w.seen[a].orgs for a in accounts))) == 1
    assert len(set().union(*(w.seen[a].uas for a in accounts))) == 1
    assert len(set().union(*(w.seen[a].systems for a in accounts)) - {None}) == 1  # None: embeddings
    assert len({ip.rsplit(".", 1)[0] for a in accounts for ip in w.seen[a].ips}) == 1


def test_eval_lab_runs_at_temperature_zero_a_few_hours_on_each_day() -> None:
    """An eval lab is planned at temperature 0 for a few hours on each day of a two-day world."""
    scenario = evaluation_scenario("unseen", 5, hours=50.0, benign_accounts=10)
    simulation = generate(scenario, seed=5)
    labs = [p for p in simulation._plans if p.kind == "eval_lab"]
    assert labs
    low, high = max(lo for lo, _ in SPLITS["unseen"].ranges.eval_lab_hours), 7.0
    for plan in labs:
        assert len(plan.segments) == 2
        for segment in plan.segments:
            assert segment.style.temperatures == (0.0,)
            assert low - 0.5 <= (segment.t1 - segment.t0) / 3600 <= high
    w = _world("unseen", 3)
    assert all(w.seen[a].temperatures == {0.0} for a in w.kind("eval_lab") if a in w.seen)


def test_no_text_condition_sends_no_prompt_at_all() -> None:
    """Without text, not a single event carries a prompt; every event still passes the contract."""
    scenario = evaluation_scenario("unseen", 2, hours=4.0, benign_accounts=10, include_prompt_text=False)
    for count, event in enumerate(generate(scenario, seed=2).events()):
        assert event["prompt"] is None
        if count % 97 == 0:
            ApiCallEvent.model_validate(event)


def _digest(split: str, seed: int) -> str:
    scenario = evaluation_scenario(split, seed, hours=3.0, benign_accounts=10)  # type: ignore[arg-type]
    h = hashlib.sha256()
    for event in generate(scenario, seed=seed).events():
        h.update(orjson.dumps(event, option=orjson.OPT_SORT_KEYS))
    return h.hexdigest()


def test_an_evaluation_world_is_deterministic_per_seed() -> None:
    """Same split and seed: the same bytes; another seed: another world."""
    assert _digest("tuning", 7) == _digest("tuning", 7)
    assert _digest("tuning", 7) != _digest("tuning", 8)


def test_parameters_are_drawn_per_seed_from_the_split_ranges() -> None:
    """Rates and sizes change with the seed and stay inside the split's own intervals."""
    rates = {evaluation_scenario("unseen", s).campaigns[0].rate_per_hour for s in range(5)}
    assert len(rates) == 5
    intervals = SPLITS["unseen"].ranges.bulk_rate
    assert all(any(lo <= r <= hi for lo, hi in intervals) for r in rates)


def test_composed_wrappers_vary_and_keep_the_item() -> None:
    """Composition gives many distinct wrappers from one split's parts, each with one item slot."""
    rng = random.Random(0)
    templates = {compose_template(rng, SPLITS["tuning"].wrappers) for _ in range(200)}
    assert len(templates) > 60
    assert all(t.count("{p}") == 1 for t in templates)
    assert len(set(compose_templates(rng, SPLITS["unseen"].wrappers, 4))) == 4


def test_world_prompts_come_only_from_the_split_sources() -> None:
    """Sampled prompts of a tuning world never quote an item only unseen sources hold."""
    pools = load_wide_pools()
    unseen_only = {t for n in split_sources(SPLITS["unseen"]) for t in pools[n].texts} - {
        t for n in split_sources(SPLITS["tuning"]) for t in pools[n].texts
    }
    w = _world("tuning", 3)
    prompts: list[Any] = [p for s in w.seen.values() for p in s.prompts]
    assert prompts and not any(p in unseen_only for p in prompts)


@pytest.mark.parametrize("split", ["tuning", "unseen"])
def test_low_and_slow_runs_at_25_to_350_calls_a_day(split: str) -> None:
    """Every low-and-slow campaign of ten seeds is planned at 25-350 calls a day, over the whole world."""
    for seed in range(10):
        scenario = evaluation_scenario(split, seed)  # type: ignore[arg-type]
        slow = [c for c in scenario.campaigns if c.style == "low_and_slow"]
        assert slow
        for campaign in slow:
            assert 25 <= campaign.rate_per_hour * 24 <= 350
            assert campaign.start_offset_hours == 0 and campaign.duration_hours is None


def test_spread_hydra_uses_many_networks_and_one_cloud_hydra_one() -> None:
    """Spread hydras call from many /24s; a one-cloud hydra from a single /24."""
    tuning, unseen = _world("tuning", 3), _world("unseen", 3)

    def prefixes(w: World, variant: str) -> set[str]:
        return {
            ip.rsplit(".", 1)[0] for a in w.accounts("hydra", variant) if a in w.seen for ip in w.seen[a].ips
        }

    assert len(prefixes(tuning, "one_cloud")) == 1
    assert len(prefixes(unseen, "spread_networks")) >= 3  # the small test world has 3+ such accounts
