"""Per-event signals and the per-account feature vector built from them.

An event is reduced at once to a fixed tuple of numbers (``EventSignals``); the account state
keeps only exponentially decayed sums of those numbers, so an update is O(1) and the state size
does not grow with the account's event count. Names here are the names that appear in alert
reasons and in the learners' feature dicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from detector.events import ApiCallEvent
from detector.pipeline.content import PromptSignals, prompt_signals

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
)
# Means over all calls.
CALL_MEANS: tuple[str, ...] = (
    "log_prompt_tokens",
    "log_completion_tokens",
    "log_output_input_ratio",
)
# Shares over calls that carried prompt text (absent text is not evidence either way).
TEXT_SHARES: tuple[str, ...] = (
    "cot_elicitation_share",
    "instruction_style_share",
    "rubric_grading_share",
    "template_repeat_share",
    "duplicate_prompt_share",
)
CALL_SIGNALS: tuple[str, ...] = CALL_SHARES + CALL_MEANS
N_CALL = len(CALL_SIGNALS)
N_TEXT = len(TEXT_SHARES)

# Output at or above this share of max_tokens counts as "ran to the cap": a distiller asks for
# the longest answers it can get.
NEAR_CAP_FRACTION = 0.9
LOW_TEMPERATURE = 0.2
MANY_TOP_LOGPROBS = 5


@dataclass(frozen=True, slots=True)
class EventSignals:
    """One event reduced to numbers; prompt text is gone once this exists."""

    call: tuple[float, ...]
    prompt: PromptSignals | None
    tokens: int


def event_signals(event: ApiCallEvent) -> EventSignals:
    """Reduce one validated event to the numbers the account state accumulates."""
    params = event.params
    prompt_tokens = event.prompt_tokens
    completion_tokens = event.completion_tokens
    max_tokens = params.max_tokens
    near_cap = (
        max_tokens is not None and max_tokens > 1 and completion_tokens >= NEAR_CAP_FRACTION * max_tokens
    )
    temperature = params.temperature
    call = (
        1.0 if event.messages == 1 else 0.0,
        1.0 if near_cap else 0.0,
        1.0 if temperature is not None and temperature <= LOW_TEMPERATURE else 0.0,
        1.0 if params.logprobs else 0.0,
        1.0 if params.logprobs and params.top_logprobs >= MANY_TOP_LOGPROBS else 0.0,
        1.0 if params.logit_bias_size > 0 else 0.0,
        1.0 if max_tokens == 1 else 0.0,
        1.0 if params.tools > 0 else 0.0,
        1.0 if event.status == 429 else 0.0,
        math.log1p(prompt_tokens),
        math.log1p(completion_tokens),
        math.log1p(completion_tokens) - math.log1p(prompt_tokens),
    )
    prompt = prompt_signals(event.prompt) if event.prompt else None
    return EventSignals(call=call, prompt=prompt, tokens=prompt_tokens + completion_tokens)
