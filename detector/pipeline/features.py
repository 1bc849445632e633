"""Per-event signals and the per-account feature vector built from them.

An event is reduced at once to a fixed tuple of numbers (``EventSignals``); the account state
keeps only exponentially decayed sums of those numbers, so an update is O(1) and the state size
does not grow with the account's event count. Names here are the names that appear in alert
reasons and in the learners' feature dicts.
"""

from __future__ import annotations

import ipaddress
import math
import zlib
from functools import lru_cache
from typing import NamedTuple

from detector.events import ApiCallEvent
from detector.pipeline.content import PromptSignals, prompt_signals
from detector.pipeline.signals.normalize import normalize_prompt
from detector.pipeline.validate import CallEvent

# Shares over all calls of the account (numerator = calls with the property).
CALL_SHARES: tuple[str, ...] = (
    "single_turn_share",
    "near_output_cap_share",
    "low_temperature_share",
    "logprobs_share",
    "many_top_logprobs_share",
    "logit_bias_share",
    "max_tokens_one_share",
    "tools_share",
    "rate_limited_share",
    "harvest_call_share",
)
# Means over all calls.
CALL_MEANS: tuple[str, ...] = (
    "log_prompt_tokens",
    "log_completion_tokens",
    "log_output_input_ratio",
    "top_logprobs_fraction",
    "log_logit_bias_size",
    "log_logit_bias_size_sq",
    "reasoning_share",
)
# Shares over calls that carried prompt text (absent text is not evidence either way).
TEXT_SHARES: tuple[str, ...] = (
    "cot_elicitation_share",
    "instruction_style_share",
    "rubric_grading_share",
    "template_repeat_share",
    "duplicate_prompt_share",
    "distillation_call_share",
)
CALL_SIGNALS: tuple[str, ...] = CALL_SHARES + CALL_MEANS
N_CALL = len(CALL_SIGNALS)
N_TEXT = len(TEXT_SHARES)

# Output at or above this share of max_tokens counts as "ran to the cap": a distiller asks for
# the longest answers it can get.
NEAR_CAP_FRACTION = 0.9
# ... of a cap that leaves room for a rich answer: a benchmark run or a classifier capping answers
# at a few hundred tokens hits its cap often, but that is not harvesting.
NEAR_CAP_MIN_TOKENS = 500
# A "harvest call": single-turn, and the answer runs to the cap or is long and far longer than
# the question. What a distiller buys; also what some honest users get now and then.
HARVEST_MIN_COMPLETION = 1000
HARVEST_MIN_RATIO = 4.0
LOW_TEMPERATURE = 0.2
MAX_SCAFFOLD_DEPTH = 6
# More alternatives per position than any label classifier needs; the public APIs cap at 20.
MANY_TOP_LOGPROBS = 10
MAX_TOP_LOGPROBS = 20


class EventSignals(NamedTuple):
    """One event reduced to numbers; prompt text is gone once this exists.

    A named tuple, not a frozen dataclass: one is built per event, and a tuple is built in one
    step where a frozen dataclass sets each field through ``object.__setattr__``.
    """

    call: tuple[float, ...]
    prompt: PromptSignals | None
    tokens: int
    answer_tokens: int  # completion tokens the caller receives (hidden reasoning excluded)
    infrastructure: tuple[int, int, int]  # hashes of client /24 (or /48), user agent, system prompt


def conversation_depth(event: CallEvent | ApiCallEvent) -> int:
    """User and assistant turns of the call (a system prompt is not a turn)."""
    return event.messages - (1 if event.system_prompt_hash else 0)


def event_signals(
    event: CallEvent | ApiCallEvent, previous_depth: int = 0, prompt_text: str | None = None
) -> EventSignals:
    """Reduce one validated event to the numbers the account state accumulates.

    ``previous_depth`` is the conversation depth of the account's previous call: a call at the
    same depth again (2 to ``MAX_SCAFFOLD_DEPTH`` turns) is a fixed scaffold — an instruction
    turn and an acknowledgement resent before each fresh item — not a conversation, whose
    depth grows from call to call. It counts as one task, like a single-turn call.
    """
    params = event.params
    prompt_tokens = event.prompt_tokens
    completion_tokens = event.completion_tokens
    # What the caller receives, and so what a distiller can train on: hidden reasoning is billed
    # inside completion_tokens but never returned (the contract). A reasoning model's long
    # hidden chains make a person's answers look long; the answer's length is the visible part.
    answer_tokens = max(0, completion_tokens - event.reasoning_tokens)
    max_tokens = params.max_tokens
    near_cap = (
        max_tokens is not None
        and answer_tokens >= NEAR_CAP_MIN_TOKENS
        and completion_tokens >= NEAR_CAP_FRACTION * max_tokens
    )
    temperature = params.temperature
    log_bias = math.log1p(params.logit_bias_size)
    log_prompt = math.log1p(prompt_tokens)
    log_completion = math.log1p(answer_tokens)
    # A system prompt is one of the messages; single-turn means one user message.
    depth = conversation_depth(event)
    single_turn = depth <= 1 or (depth == previous_depth and depth <= MAX_SCAFFOLD_DEPTH)
    harvest = single_turn and (
        near_cap
        or (answer_tokens >= HARVEST_MIN_COMPLETION and answer_tokens >= HARVEST_MIN_RATIO * prompt_tokens)
    )
    call = (
        1.0 if single_turn else 0.0,
        1.0 if near_cap else 0.0,
        1.0 if temperature is not None and temperature <= LOW_TEMPERATURE else 0.0,
        1.0 if params.logprobs else 0.0,
        1.0 if params.logprobs and params.top_logprobs >= MANY_TOP_LOGPROBS else 0.0,
        1.0 if params.logit_bias_size > 0 else 0.0,
        1.0 if max_tokens == 1 else 0.0,
        1.0 if params.tools > 0 else 0.0,
        1.0 if event.status == 429 else 0.0,
        1.0 if harvest else 0.0,
        log_prompt,
        log_completion,
        log_completion - log_prompt,
        min(params.top_logprobs, MAX_TOP_LOGPROBS) / MAX_TOP_LOGPROBS if params.logprobs else 0.0,
        log_bias,
        log_bias * log_bias,
        event.reasoning_tokens / completion_tokens if completion_tokens else 0.0,
    )
    # Content is read from the bounded, de-obfuscated slice: a padded or disguised prompt is
    # still scored, at the cost of a short one.
    if event.prompt and prompt_text is None:
        prompt_text = normalize_prompt(event.prompt)
    prompt = prompt_signals(prompt_text) if prompt_text else None
    return EventSignals(
        call,
        prompt,
        prompt_tokens + completion_tokens,
        answer_tokens,
        (_network_key(event.client_ip), _text_key(event.user_agent), _text_key(event.system_prompt_hash)),
    )


def profile_key(event: CallEvent | ApiCallEvent) -> int:
    """Hash of how the call is made: endpoint, model and the sampling parameters a script fixes
    once (a campaign's accounts run one script, so they share it even on disjoint networks).
    Read when the account is scored, not per event: the last call's profile is the account's."""
    params = event.params
    temperature = None if params.temperature is None else round(params.temperature, 2)
    top_p = None if params.top_p is None else round(params.top_p, 2)
    return zlib.crc32(
        f"{event.endpoint}|{event.model}|{params.max_tokens}|{temperature}|{top_p}|{params.n}|"
        f"{params.stream}|{params.tools > 0}|{params.logprobs}".encode()
    )


def _text_key(value: str | None) -> int:
    return zlib.crc32(value.encode()) if value else 0


def _network_key(ip: str | None) -> int:
    """Hash of the caller's network (IPv4 /24, IPv6 /48): proxies rotate hosts, not networks."""
    if not ip:
        return 0
    if ":" in ip:
        return _ipv6_network_key_cached(ip) if len(ip) <= _MAX_CACHED_IP else _ipv6_network_key(ip)
    return zlib.crc32(ip.rsplit(".", 1)[0].encode())


def _ipv6_network_key(ip: str) -> int:
    network = ipaddress.ip_network(f"{ip}/48", strict=False)
    return zlib.crc32(network.network_address.packed)


# ~5 us through ipaddress, and an account calls from few addresses: remembered, bounded in
# entries and in length (a scoped address may be any length).
_MAX_CACHED_IP = 64
_ipv6_network_key_cached = lru_cache(maxsize=16_384)(_ipv6_network_key)
