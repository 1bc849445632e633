"""Small hand-made events for unit tests: readable, with only the fields a test cares about."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

START = datetime(2026, 11, 2, tzinfo=UTC)
_ids = itertools.count()

ORGANIC_PROMPTS = [
    "What is a good name for a bakery that also sells coffee?",
    "my python script says KeyError when reading the config, why",
    "Can you help me plan a 3 day trip to Lisbon with kids?",
    "Rewrite this email to sound friendlier: we cannot refund you",
    "what's the difference between a roth ira and a 401k",
    "Summarise the attached meeting notes in five bullets",
    "why does my sourdough not rise",
    "Translate 'good morning, how are you' to Portuguese",
]
TASKS = [
    "Write a Python function that returns the n-th Fibonacci number.",
    "Natalia sold clips to 48 of her friends in April and half as many in May. How many in total?",
    "Classify the sentiment of this review: the food was cold and late.",
    "Generate three interview questions for a data engineer.",
    "Explain why the sky is blue to a ten year old.",
    "Convert 72 degrees Fahrenheit to Celsius.",
]


def event(
    account_id: str = "acct_a",
    at: datetime = START,
    **overrides: Any,
) -> dict[str, Any]:
    """One valid v1 event as a dict; keyword arguments replace fields (``params`` merges)."""
    base: dict[str, Any] = {
        "schema_version": 1,
        "event_id": f"evt-{next(_ids)}",
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "account_id": account_id,
        "org_id": "org_1",
        "api_key_id": "key_1",
        "client_ip": "203.0.113.7",
        "user_agent": "openai-python/1.54.0",
        "endpoint": "chat.completions",
        "model": "frontier-large",
        "status": 200,
        "prompt_tokens": 300,
        "completion_tokens": 400,
        "messages": 1,
        "prompt": ORGANIC_PROMPTS[0],
        "params": {"temperature": 0.7, "max_tokens": None},
    }
    params = overrides.pop("params", None)
    base.update(overrides)
    if params:
        base["params"] = {**base["params"], **params}
    return base


def encode(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document)


def benign_stream(accounts: int, hours: float, seed: int = 1) -> list[dict[str, Any]]:
    """Ordinary chat customers: a few calls an hour, multi-turn often, organic prompts."""
    rng = random.Random(seed)
    out = []
    for index in range(accounts):
        rate = rng.choice([1, 2, 4, 8, 20])  # calls per hour
        t = START + timedelta(seconds=rng.uniform(0, 3600))
        while t < START + timedelta(hours=hours):
            out.append(
                event(
                    f"acct_b{index}",
                    t,
                    org_id=f"org_b{index % 50}",
                    messages=rng.choice([1, 1, 2, 3, 5]),
                    prompt=rng.choice(ORGANIC_PROMPTS) + f" ({rng.randint(0, 10**6)})",
                    prompt_tokens=rng.randint(20, 2000),
                    completion_tokens=rng.randint(50, 900),
                    params={
                        "temperature": rng.choice([0.7, 1.0, None]),
                        "max_tokens": rng.choice([None, 2048]),
                    },
                )
            )
            t += timedelta(seconds=rng.expovariate(rate / 3600.0))
    return out


def bulk_distillation_stream(
    account_id: str, start_hour: float, hours: float, per_hour: int = 600, seed: int = 2
) -> list[dict[str, Any]]:
    """A distiller: steady high volume of templated, step-by-step instruction prompts to the cap."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    t = START + timedelta(hours=start_hour)
    end = t + timedelta(hours=hours)
    while t < end:
        # A crawl never sends the same item twice (it pays for answers it has not got yet).
        task = f"{rng.choice(TASKS)} (dataset item {len(out) + 1})"
        out.append(
            event(
                account_id,
                t,
                org_id="org_x",
                messages=1,
                prompt=f"Answer the following task. {task} Think step by step and show your reasoning.",
                prompt_tokens=rng.randint(60, 200),
                completion_tokens=rng.randint(3700, 4096),
                params={"temperature": 0.0, "max_tokens": 4096},
            )
        )
        t += timedelta(seconds=3600.0 / per_hour * rng.uniform(0.8, 1.2))
    return out


def by_time(*streams: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = [e for stream in streams for e in stream]
    merged.sort(key=lambda e: e["timestamp"])
    return merged


def hydra_stream(
    accounts: int, start_hour: float, hours: float, per_hour: float = 6.0, seed: int = 3
) -> list[dict[str, Any]]:
    """A small hydra: many accounts at ordinary volume sharing one playbook (system prompt,
    template, network), starting within minutes of each other."""
    rng = random.Random(seed)
    out = []
    for index in range(accounts):
        t = START + timedelta(hours=start_hour, seconds=rng.uniform(0, 600))
        end = START + timedelta(hours=start_hour + hours)
        while t < end:
            out.append(
                event(
                    f"acct_h{index}",
                    t,
                    org_id=f"org_h{index}",
                    client_ip=f"198.51.100.{10 + index}",
                    system_prompt_hash="sp-shared-playbook",
                    messages=2,
                    prompt=f"### Instruction:\n{rng.choice(TASKS)}\n\n### Response (explain your reasoning step by step):",
                    prompt_tokens=rng.randint(60, 200),
                    completion_tokens=rng.randint(1800, 2048),
                    params={"temperature": 0.7, "max_tokens": 2048},
                )
            )
            t += timedelta(seconds=rng.expovariate(per_hour / 3600.0))
    return out
