"""The simulator's event stream: contract validity, determinism, labels and traffic shapes."""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter, defaultdict
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import pytest

from detector.events import ApiCallEvent
from detector.simulate import CampaignSpec, Scenario, Simulation, default_scenario, generate

_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]{6}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_REQUIRED = {
    "schema_version",
    "event_id",
    "timestamp",
    "account_id",
    "endpoint",
    "model",
    "status",
    "prompt_tokens",
    "completion_tokens",
}
_PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "temperature": (float, int, type(None)),
    "top_p": (float, int, type(None)),
    "n": (int,),
    "max_tokens": (int, type(None)),
    "logprobs": (bool,),
    "top_logprobs": (int,),
    "logit_bias_size": (int,),
    "stream": (bool,),
    "tools": (int,),
    "seed": (int, type(None)),
}


def contract_errors(event: dict[str, Any]) -> list[str]:
    """Every rule of api-call-event-v1 that the event breaks (empty = valid)."""
    errors = [f"missing {name}" for name in _REQUIRED if name not in event]
    if errors:
        return errors
    if event["schema_version"] != 1:
        errors.append("schema_version")
    for name in ("event_id", "account_id"):
        value = event[name]
        if not isinstance(value, str) or not 1 <= len(value) <= 128:
            errors.append(name)
    if not isinstance(event["timestamp"], str) or not _TS.match(event["timestamp"]):
        errors.append("timestamp format")
    else:
        datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
    for name in ("org_id", "api_key_id", "system_prompt_hash", "prompt"):
        if event.get(name) is not None and not isinstance(event[name], str):
            errors.append(name)
    if event.get("client_ip") is not None:
        ipaddress.ip_address(event["client_ip"])
    ua = event.get("user_agent")
    if ua is not None and (not isinstance(ua, str) or len(ua) > 512):
        errors.append("user_agent")
    if not isinstance(event["endpoint"], str) or not isinstance(event["model"], str):
        errors.append("endpoint/model")
    if not isinstance(event["status"], int) or not 100 <= event["status"] <= 599:
        errors.append("status")
    for name in ("prompt_tokens", "completion_tokens", "reasoning_tokens"):
        value = event.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors.append(name)
    if event.get("reasoning_tokens", 0) > event["completion_tokens"]:
        errors.append("reasoning > completion")
    latency = event.get("latency_ms")
    if latency is not None and (not isinstance(latency, int | float) or latency < 0):
        errors.append("latency_ms")
    messages = event.get("messages", 1)
    if not isinstance(messages, int) or messages < 1:
        errors.append("messages")
    params = event.get("params", {})
    for name, value in params.items():
        if name in _PARAM_TYPES and not isinstance(value, _PARAM_TYPES[name]):
            errors.append(f"params.{name}")
        if name in {"n"} and value < 1:
            errors.append("params.n")
        if name in {"top_logprobs", "logit_bias_size", "tools"} and value < 0:
            errors.append(f"params.{name}")
    return errors


@pytest.fixture(scope="module")
def small() -> Simulation:
    """Eight hours, 60 ordinary accounts, the default campaigns and hard negatives."""
    return generate(default_scenario(hours=8.0, benign_accounts=60), seed=7)


@pytest.fixture(scope="module")
def small_events(small: Simulation) -> list[dict[str, Any]]:
    """The small simulation's events, materialised once for the shape tests."""
    return list(small.events())


def test_every_event_satisfies_the_contract(small_events: list[dict[str, Any]]) -> None:
    """No generated event breaks a rule of api-call-event-v1."""
    assert len(small_events) > 1000
    bad = [(e["event_id"], errs) for e in small_events if (errs := contract_errors(e))]
    assert bad == []


def test_every_event_passes_the_detector_contract_model(small_events: list[dict[str, Any]]) -> None:
    """The detector's own wire model (strict pydantic) accepts every event's JSON."""
    for event in small_events:
        ApiCallEvent.model_validate_json(orjson.dumps(event))


def test_events_are_sorted_unique_and_uuid_shaped(small_events: list[dict[str, Any]]) -> None:
    """Timestamps never go backwards and every event id is a distinct UUID-looking string."""
    stamps = [e["timestamp"] for e in small_events]
    assert stamps == sorted(stamps)
    ids = [e["event_id"] for e in small_events]
    assert len(set(ids)) == len(ids)
    assert all(_UUID.match(i) for i in ids)


def test_same_seed_gives_byte_identical_stream() -> None:
    """Two runs with one seed serialise to the same bytes; another seed differs."""
    scenario = default_scenario(hours=3.0, benign_accounts=30)

    def dump(seed: int) -> bytes:
        return b"\n".join(orjson.dumps(e) for e in generate(scenario, seed=seed).events())

    first = dump(11)
    assert first == dump(11)
    assert first != dump(12)


def test_events_iterate_again_identically(small: Simulation, small_events: list[dict[str, Any]]) -> None:
    """events() restarts from the plan each call, so a second pass repeats the first one."""
    again = list(islice(small.events(), 500))
    assert again == small_events[:500]


def test_account_ids_do_not_reveal_labels(small: Simulation, small_events: list[dict[str, Any]]) -> None:
    """Attacking and benign accounts share one id format, and every account appears in exactly one list."""
    accounts = {e["account_id"] for e in small_events}
    assert all(_ACCOUNT.match(a) for a in accounts)
    attackers = {label["account_id"] for label in small.labels}
    assert attackers <= accounts
    assert not attackers & set(small.benign_kinds)
    assert accounts <= attackers | set(small.benign_kinds)


def test_default_scenario_plants_a_bulk_distillation_account() -> None:
    """The default scenario contains at least one single-account bulk distillation campaign."""
    bulk = [c for c in default_scenario().campaigns if c.style == "bulk_distillation"]
    assert any(c.accounts == 1 for c in bulk)


def _per_account(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        grouped[e["account_id"]].append(e)
    return grouped


def test_bulk_distillation_looks_like_a_crawl() -> None:
    """A bulk account sends CoT-wrapped single-turn prompts at its rate, near a fixed cap, with one system prompt."""
    scenario = Scenario(
        hours=4.0,
        benign_accounts=5,
        campaigns=(CampaignSpec(style="bulk_distillation", start_offset_hours=1.0, rate_per_hour=600.0),),
    )
    sim = generate(scenario, seed=3)
    (label,) = sim.labels
    calls = _per_account(list(sim.events()))[label["account_id"]]
    assert all(e["timestamp"] >= label["start"] for e in calls)
    assert 0.85 * 1800 <= len(calls) <= 1.15 * 1800
    assert len({e["system_prompt_hash"] for e in calls}) == 1
    assert all(e["messages"] == 2 for e in calls)
    assert len({e["params"]["max_tokens"] for e in calls}) == 1
    assert len({e["params"]["temperature"] for e in calls}) == 1
    served = [e for e in calls if e["status"] == 200]
    cap = served[0]["params"]["max_tokens"]
    assert sum(e["completion_tokens"] for e in served) / len(served) > 0.6 * cap
    cot = ("step by step", "reasoning", "chain of thought", "reason through")
    assert sum(any(p in e["prompt"].lower() for p in cot) for e in calls) == len(calls)
    assert len({e["prompt"] for e in calls}) > 0.95 * len(calls)


def test_prior_history_precedes_the_onset() -> None:
    """With prior_history the account calls like a customer before its onset, and crawls only after."""
    scenario = Scenario(
        hours=12.0,
        benign_accounts=5,
        campaigns=(
            CampaignSpec(
                style="bulk_distillation", start_offset_hours=6.0, rate_per_hour=300.0, prior_history=True
            ),
        ),
    )
    sim = generate(scenario, seed=5)
    (label,) = sim.labels
    calls = _per_account(list(sim.events()))[label["account_id"]]
    before = [e for e in calls if e["timestamp"] < label["start"]]
    after = [e for e in calls if e["timestamp"] >= label["start"]]
    assert 0 < len(before) < len(after)
    assert {e["user_agent"] for e in before}.isdisjoint({e["user_agent"] for e in after}) or {
        e["client_ip"] for e in before
    }.isdisjoint({e["client_ip"] for e in after})


def test_benign_traffic_has_real_world_shapes(small: Simulation, small_events: list[dict[str, Any]]) -> None:
    """Ordinary accounts mix models, statuses, multi-turn chats and parameters in plausible shares."""
    benign = {a for a, k in small.benign_kinds.items() if k == "benign"}
    events = [e for e in small_events if e["account_id"] in benign]
    chat = [e for e in events if e["endpoint"] != "embeddings"]
    statuses = Counter(e["status"] for e in events)
    assert statuses[200] / len(events) > 0.95
    multi = sum(e["messages"] > (2 if e["system_prompt_hash"] else 1) for e in chat) / len(chat)
    assert 0.1 < multi < 0.5
    assert len({e["params"]["temperature"] for e in chat}) >= 4
    assert len({e["model"] for e in events}) >= 3
    orgs = Counter(e["org_id"] for e in events)
    assert len(orgs) < len({e["account_id"] for e in events})


def test_write_labels_round_trips(small: Simulation, tmp_path: Path) -> None:
    """The labels file holds the seed, the scenario, one entry per attacking account and the benign kinds."""
    path = tmp_path / "labels.json"
    small.write_labels(path)
    data = json.loads(path.read_text())
    assert data["seed"] == 7
    assert Scenario.model_validate(data["scenario"]) == small.scenario
    assert data["campaigns"] == small.labels
    assert data["benign_kinds"] == small.benign_kinds
    for label in data["campaigns"]:
        assert set(label) == {
            "account_id",
            "campaign_id",
            "style",
            "start",
            "end",
            "variant",
            "evasion",
            "end_user_id",
        }
        assert label["start"] <= label["end"]


def test_only_the_reasoning_model_reports_reasoning_tokens(small_events: list[dict[str, Any]]) -> None:
    """Reasoning tokens appear on served reasoning-model calls and never on other models."""
    assert all(e["model"] == "frontier-reasoning" for e in small_events if e["reasoning_tokens"] > 0)
    served = [e for e in small_events if e["model"] == "frontier-reasoning" and e["status"] == 200]
    assert served
    assert sum(e["reasoning_tokens"] > 0 for e in served) > 0.9 * len(served)


def test_prompt_text_can_be_withheld() -> None:
    """With include_prompt_text off, no event carries prompt text (a gateway that shares none)."""
    scenario = default_scenario(hours=2.0, benign_accounts=10).model_copy(
        update={"include_prompt_text": False}
    )
    events = list(generate(scenario, seed=4).events())
    assert events
    assert all(e["prompt"] is None for e in events)
