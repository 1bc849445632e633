"""Each attack style and hard negative of the default scenario has its defining traits."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import pytest

from detector.simulate import CampaignSpec, HardNegativeSpec, Scenario, Simulation, default_scenario, generate

Calls = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def sim() -> Simulation:
    """Twelve hours, 80 ordinary accounts, every style and hard negative of the default scenario."""
    return generate(default_scenario(hours=12.0, benign_accounts=80), seed=21)


@pytest.fixture(scope="module")
def calls(sim: Simulation) -> Calls:
    """The simulation's events grouped by account."""
    grouped: Calls = defaultdict(list)
    for event in sim.events():
        grouped[event["account_id"]].append(event)
    return grouped


def _accounts(sim: Simulation, style: str) -> list[dict[str, Any]]:
    return [label for label in sim.labels if label["style"] == style]


def _kind(sim: Simulation, kind: str) -> list[str]:
    return [account for account, k in sim.benign_kinds.items() if k == kind]


def _during(events: list[dict[str, Any]], label: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in events if label["start"] <= e["timestamp"] < label["end"]]


def test_default_scenario_plants_every_style_and_hard_negative(sim: Simulation) -> None:
    """The default scenario labels every attack style and lists every hard-negative kind."""
    styles = {label["style"] for label in sim.labels}
    assert styles == {
        "bulk_distillation",
        "hydra",
        "low_and_slow",
        "logit_extraction",
        "reasoning_harvest",
        "router_mixed",
    }
    kinds = set(sim.benign_kinds.values())
    assert kinds >= {
        "benign",
        "launch_adopter",
        "heavy_batch",
        "eval_harness",
        "templated_product",
        "shared_nat",
        "router",
        "logprob_classifier",
        "tutoring_app",
        "agent_loop",
        "reasoning_power_user",
    }


def test_hydra_accounts_share_a_playbook_but_not_prompts(sim: Simulation, calls: Calls) -> None:
    """Hydra accounts start within minutes, share a system prompt and IP prefixes, and split the dataset."""
    labels = _accounts(sim, "hydra")
    assert len(labels) >= 10
    starts = sorted(datetime.fromisoformat(label["start"]) for label in labels)
    assert (starts[-1] - starts[0]).total_seconds() <= 600
    events = [e for label in labels for e in calls[label["account_id"]]]
    systems = Counter(e["system_prompt_hash"] for e in events)
    assert systems.most_common(1)[0][1] > 0.6 * len(events)
    prefixes = Counter(e["client_ip"].rsplit(".", 1)[0] for e in events)
    assert len(prefixes) < len(labels)
    per_account_volume = [len(calls[label["account_id"]]) for label in labels]
    assert max(per_account_volume) < 150  # ordinary volume per account
    owner: dict[str, str] = {}
    for e in events:
        assert owner.setdefault(e["prompt"], e["account_id"]) == e["account_id"]


def test_low_and_slow_keeps_a_human_pace(sim: Simulation, calls: Calls) -> None:
    """The low-and-slow account stays under a few dozen calls an hour and single-turn."""
    (label,) = _accounts(sim, "low_and_slow")
    events = calls[label["account_id"]]
    per_hour = Counter(e["timestamp"][:13] for e in events)
    assert 0 < len(events) < 400
    assert max(per_hour.values()) < 60
    assert all(e["messages"] == 1 for e in events)


def test_logit_extraction_probes_single_tokens_with_wide_logprobs(sim: Simulation, calls: Calls) -> None:
    """Logit extraction asks for one token, 20 alternatives and sweeps the logit bias."""
    (label,) = _accounts(sim, "logit_extraction")
    events = _during(calls[label["account_id"]], label)
    assert len(events) > 100
    assert all(e["params"]["max_tokens"] == 1 and e["params"]["top_logprobs"] == 20 for e in events)
    assert len({e["params"]["logit_bias_size"] for e in events}) >= 5


def test_logprob_classifier_is_narrower_than_logit_extraction(sim: Simulation, calls: Calls) -> None:
    """The benign classifier also reads one token's logprobs, but few alternatives and a fixed bias."""
    (account,) = _kind(sim, "logprob_classifier")
    events = calls[account]
    assert all(e["params"]["max_tokens"] == 1 and e["params"]["logprobs"] for e in events)
    assert max(e["params"]["top_logprobs"] for e in events) <= 5
    assert len({e["params"]["logit_bias_size"] for e in events}) == 1


def test_reasoning_harvest_collects_long_reasoning(sim: Simulation, calls: Calls) -> None:
    """Reasoning harvest uses the reasoning model and gets answers that are mostly reasoning tokens."""
    (label,) = _accounts(sim, "reasoning_harvest")
    served = [e for e in _during(calls[label["account_id"]], label) if e["status"] == 200]
    assert served
    assert all(e["model"] == "frontier-reasoning" for e in served)
    ratio = sum(e["reasoning_tokens"] for e in served) / sum(e["completion_tokens"] for e in served)
    assert ratio > 0.6


def test_router_mixed_hides_a_crawl_in_diverse_traffic(sim: Simulation, calls: Calls) -> None:
    """The router_mixed account sends both organic chats and CoT-wrapped dataset prompts after its onset."""
    (label,) = _accounts(sim, "router_mixed")
    events = calls[label["account_id"]]
    before = [e for e in events if e["timestamp"] < label["start"]]
    during = _during(events, label)
    assert before
    assert len({e["system_prompt_hash"] for e in during}) > 5
    cot = sum("step by step" in (e["prompt"] or "").lower() for e in during)
    assert 0.05 * len(during) < cot < 0.8 * len(during)


def test_eval_harness_is_deterministic_and_bounded(sim: Simulation, calls: Calls) -> None:
    """The evaluation harness runs at temperature 0 with a fixed seed, for at most three hours."""
    (account,) = _kind(sim, "eval_harness")
    events = calls[account]
    assert all(e["params"]["temperature"] == 0.0 and e["params"]["seed"] == 1234 for e in events)
    hours = {e["timestamp"][:13] for e in events}
    assert len(hours) <= 4


def test_agent_loop_grows_its_context(sim: Simulation, calls: Calls) -> None:
    """Agent loops send tools and long conversations whose prompt grows turn after turn."""
    events = [e for account in _kind(sim, "agent_loop") for e in calls[account]]
    assert all(e["params"]["tools"] > 0 for e in events)
    assert max(e["messages"] for e in events) >= 10


def test_shared_nat_accounts_share_addresses(sim: Simulation, calls: Calls) -> None:
    """Accounts behind one NAT use at most two addresses between them."""
    accounts = _kind(sim, "shared_nat")
    assert len(accounts) >= 3
    assert len({e["client_ip"] for a in accounts for e in calls[a]}) <= 2


def test_launch_adopters_move_to_the_new_model_after_the_launch(sim: Simulation, calls: Calls) -> None:
    """Adopters never use the launched model before the launch and mostly use it afterwards."""
    launch = sim.scenario.launch
    assert launch is not None
    cut = f"2026-11-02T{int(launch.offset_hours):02d}"
    events = [e for a in _kind(sim, "launch_adopter") for e in calls[a] if e["endpoint"] != "embeddings"]
    assert not any(e["model"] == launch.model for e in events if e["timestamp"] < cut)
    after = [e for e in events if e["timestamp"] >= cut]
    assert sum(e["model"] == launch.model for e in after) > 0.7 * len(after)


def test_hard_negatives_are_never_labelled() -> None:
    """A scenario of only hard negatives produces no campaign labels."""
    scenario = Scenario(
        hours=2.0,
        benign_accounts=3,
        hard_negatives=(HardNegativeSpec(kind="heavy_batch"), HardNegativeSpec(kind="router")),
    )
    sim = generate(scenario, seed=1)
    assert sim.labels == []
    assert sorted(sim.benign_kinds.values()) == ["benign"] * 3 + ["heavy_batch", "router"]


def test_campaign_duration_bounds_its_label_and_traffic() -> None:
    """A campaign with a duration stops sending when its label ends."""
    scenario = Scenario(
        hours=6.0,
        benign_accounts=2,
        campaigns=(
            CampaignSpec(
                style="bulk_distillation", start_offset_hours=1.0, duration_hours=2.0, rate_per_hour=300.0
            ),
        ),
    )
    sim = generate(scenario, seed=2)
    (label,) = sim.labels
    assert label["start"] == "2026-11-02T01:00:00.000Z"
    assert label["end"] == "2026-11-02T03:00:00.000Z"
    events = [e for e in sim.events() if e["account_id"] == label["account_id"]]
    assert all(label["start"] <= e["timestamp"] < label["end"] for e in events)
