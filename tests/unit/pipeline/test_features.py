"""Per-event signals: the fast extraction gives exactly what the plain one gives."""

from __future__ import annotations

import ipaddress
import math
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.events import ApiCallEvent
from detector.pipeline import features
from detector.pipeline.content import prompt_signals
from detector.pipeline.features import event_signals
from detector.pipeline.signals.normalize import normalize_prompt
from tests.factories import ORGANIC_PROMPTS, TASKS, event


def reference_signals(event: ApiCallEvent) -> tuple[Any, ...]:
    """``event_signals`` written plainly (every logarithm and address parsed each time)."""
    params = event.params
    prompt_tokens = event.prompt_tokens
    completion_tokens = event.completion_tokens
    answer = max(0, completion_tokens - event.reasoning_tokens)
    max_tokens = params.max_tokens
    near_cap = max_tokens is not None and answer >= 500 and completion_tokens >= 0.9 * max_tokens
    temperature = params.temperature
    log_bias = math.log1p(params.logit_bias_size)
    single_turn = event.messages - (1 if event.system_prompt_hash else 0) <= 1
    harvest = single_turn and (near_cap or (answer >= 1000 and answer >= 4.0 * prompt_tokens))
    call = (
        1.0 if single_turn else 0.0,
        1.0 if near_cap else 0.0,
        1.0 if temperature is not None and temperature <= 0.2 else 0.0,
        1.0 if params.logprobs else 0.0,
        1.0 if params.logprobs and params.top_logprobs >= 10 else 0.0,
        1.0 if params.logit_bias_size > 0 else 0.0,
        1.0 if max_tokens == 1 else 0.0,
        1.0 if params.tools > 0 else 0.0,
        1.0 if event.status == 429 else 0.0,
        1.0 if harvest else 0.0,
        math.log1p(prompt_tokens),
        math.log1p(answer),
        math.log1p(answer) - math.log1p(prompt_tokens),
        min(params.top_logprobs, 20) / 20 if params.logprobs else 0.0,
        log_bias,
        log_bias * log_bias,
        event.reasoning_tokens / completion_tokens if completion_tokens else 0.0,
    )

    def text_key(value: str | None) -> int:
        return zlib.crc32(value.encode()) if value else 0

    def network_key(ip: str | None) -> int:
        if not ip:
            return 0
        if ":" in ip:
            network = ipaddress.ip_network(f"{ip}/48", strict=False)
            return zlib.crc32(network.network_address.packed)
        return zlib.crc32(ip.rsplit(".", 1)[0].encode())

    return (
        call,
        prompt_signals(normalize_prompt(event.prompt)) if event.prompt else None,
        prompt_tokens + completion_tokens,
        answer,
        (network_key(event.client_ip), text_key(event.user_agent), text_key(event.system_prompt_hash)),
    )


ADDRESSES = [
    None,
    "203.0.113.7",
    "10.0.0.1",
    "2001:db8:85a3::8a2e:370:7334",
    "2001:db8:85a3:1::1",
    "::1",
    "::ffff:192.0.2.1",
    "fe80::1%eth0",
    "fe80::1%" + "x" * 100,  # a scope id may be any length: computed, never cached
]
counts = st.integers(min_value=0, max_value=5_000)
events = st.builds(
    lambda prompt_tokens, completion_tokens, reasoning, messages, system, status, ip, agent, prompt, params: (
        event(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            reasoning_tokens=min(reasoning, completion_tokens),
            messages=messages,
            system_prompt_hash=system,
            status=status,
            client_ip=ip,
            user_agent=agent,
            prompt=prompt,
            params=params,
        )
    ),
    counts,
    counts,
    counts,
    st.integers(min_value=1, max_value=4),
    st.sampled_from([None, "", "abc123"]),
    st.sampled_from([200, 429, 500]),
    st.sampled_from(ADDRESSES),
    st.sampled_from([None, "", "openai-python/1.54.0"]),
    st.sampled_from([None, "", *ORGANIC_PROMPTS, *TASKS]) | st.text(max_size=50),
    st.fixed_dictionaries(
        {
            "temperature": st.sampled_from([None, 0.0, 0.2, 0.7]),
            "max_tokens": st.sampled_from([None, 1, 2, 400, 4096]),
            "logprobs": st.booleans(),
            "top_logprobs": st.integers(min_value=0, max_value=30),
            "logit_bias_size": st.integers(min_value=0, max_value=300),
            "tools": st.integers(min_value=0, max_value=3),
        }
    ),
)


@settings(max_examples=400, deadline=None)
@given(events)
def test_event_signals_match_the_reference(document: dict[str, Any]) -> None:
    """Every field of the signals is exactly (bit for bit) what the plain computation gives."""
    validated = ApiCallEvent.model_validate(document)
    assert tuple(event_signals(validated)) == reference_signals(validated)


@pytest.mark.parametrize("address", [a for a in ADDRESSES if a and ":" in a])
def test_ipv6_network_key_is_the_same_cached_or_not(address: str) -> None:
    """The remembered /48 key equals the computed one, the second time too; long values are not kept."""
    expected = features._ipv6_network_key(address)
    assert features._network_key(address) == expected
    assert features._network_key(address) == expected
    cached = features._ipv6_network_key_cached.cache_info().currsize
    features._network_key("fe80::2%" + "y" * 100)
    assert features._ipv6_network_key_cached.cache_info().currsize == cached


def test_a_fixed_scaffold_counts_as_one_task() -> None:
    """An instruction turn resent before every item (same depth call after call) is one task;
    a conversation whose depth grows is not."""
    scaffold = ApiCallEvent.model_validate(event(messages=4, system_prompt_hash="h"))
    assert event_signals(scaffold, previous_depth=3).call[0] == 1.0
    assert event_signals(scaffold, previous_depth=1).call[0] == 0.0
    assert event_signals(scaffold).call[0] == 0.0


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([None, 0.0, 0.2, 0.7, 1.0, 1.234]), st.sampled_from([None, 256, 4096]), st.booleans())
def test_the_request_profile_is_how_the_call_is_made(
    temperature: float | None, max_tokens: int | None, stream: bool
) -> None:
    """Two calls with the same endpoint, model and sampling parameters share a profile whatever
    their text, tokens or timing; changing any parameter changes it."""
    base = {"temperature": temperature, "max_tokens": max_tokens, "stream": stream}
    one = ApiCallEvent.model_validate(event("acct_a", prompt="first", params=base))
    two = ApiCallEvent.model_validate(event("acct_b", prompt="second", completion_tokens=999, params=base))
    assert features.profile_key(one) == features.profile_key(two)
    other = ApiCallEvent.model_validate(event("acct_a", params={**base, "n": 2}))
    assert features.profile_key(other) != features.profile_key(one)


def test_hidden_reasoning_is_no_harvested_answer() -> None:
    """A reasoning model's 3,000 billed tokens of which 2,600 are hidden reasoning: the caller got
    a 400-token answer, so the call harvests nothing; the same 3,000 tokens returned do."""
    base: dict[str, Any] = {
        "prompt": "Why does ice float?",
        "messages": 1,
        "prompt_tokens": 40,
        "completion_tokens": 3000,
    }
    hidden = event_signals(ApiCallEvent.model_validate(event("acct", **base, reasoning_tokens=2600)))
    visible = event_signals(ApiCallEvent.model_validate(event("acct", **base, reasoning_tokens=0)))
    harvest = features.CALL_SIGNALS.index("harvest_call_share")
    assert visible.call[harvest] == 1.0 and hidden.call[harvest] == 0.0
    assert hidden.answer_tokens == 400 and visible.answer_tokens == 3000
    assert hidden.tokens == visible.tokens  # billed volume is unchanged
