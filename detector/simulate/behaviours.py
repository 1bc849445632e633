"""How one account calls: a ``CallStyle`` (what each call looks like) over a ``Segment`` of time.

Every behaviour of the simulator, benign or attacking, is the same event builder with different
knobs, so that attackers and customers differ only where the behaviour differs — never in the
shape or formatting of the event. The builder draws its numbers in numpy batches (one batch per
chunk of arrivals) and its discrete choices from a per-account ``random.Random``: both are
seeded from the simulation seed, so a segment always yields the same calls.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from detector.simulate.arrivals import renewal_times
from detector.simulate.identity import Identity
from detector.simulate.reference import FloatArray
from detector.simulate.text import FOLLOW_UPS, hash_text, text_tokens, vary, wrap

MAX_CONTEXT_TOKENS = 128_000
EMBEDDING_MODEL = "embed-v3"
REASONING_MODELS = frozenset({"frontier-reasoning"})
"""Models whose answers include hidden reasoning tokens; other models never report any."""


class PromptSource(Protocol):
    """Gives the first user message of each new conversation."""

    def next(self, rng: random.Random) -> str:
        """The next prompt text."""


@dataclass(frozen=True, slots=True)
class OrganicSource:
    """A person's own prompts: drawn with reuse from a topical subset, lightly edited.

    Real users come back to the same few topics, so each account draws from its own subset, the
    first entries more often than the rest.
    """

    texts: tuple[str, ...]
    edit: bool = True
    suffixes: tuple[str, ...] = ("",)

    def next(self, rng: random.Random) -> str:
        """A prompt of the subset, skewed towards the first ones."""
        text = self.texts[int(len(self.texts) * rng.random() ** 1.6)]
        if self.edit:
            text = vary(rng, text)
        if len(self.suffixes) > 1:
            text += self.suffixes[int(len(self.suffixes) * rng.random())]
        return text


@dataclass(slots=True)
class TemplatedSource:
    """Dataset prompts wrapped in a few templates, walked through in order (a crawl of a dataset).

    Mutable on purpose: the cursor is the campaign's progress through its slice of the dataset.
    One instance belongs to one segment generator.
    """

    texts: tuple[str, ...]
    templates: tuple[str, ...]
    order: tuple[int, ...]
    suffix: str = ""
    edit: bool = False
    """Apply a person's light edits to the dataset text (a human-looking campaign, or a real tutor app)."""
    cursor: int = 0

    def next(self, rng: random.Random) -> str:
        """The next unvisited prompt (wrapping around), in a random template of the set."""
        text = self.texts[self.order[self.cursor % len(self.order)]]
        self.cursor += 1
        if self.edit:
            text = vary(rng, text)
        return wrap(self.templates[int(len(self.templates) * rng.random())], text) + self.suffix


@dataclass(frozen=True, slots=True)
class CallStyle:
    """The knobs of one behaviour. Tuples are choices drawn uniformly per call (repeat = weight)."""

    models: tuple[str, ...]
    input_q: FloatArray | None
    """Prompt-token quantiles; None = only the prompt text and system prompt count."""
    output_q: FloatArray
    reason_ratio_q: FloatArray | None = None
    near_cap: float = 0.0
    """Share of answers that run to (nearly) max_tokens, as long distillation targets do."""
    continue_prob: FloatArray | None = None
    """Chance to continue the conversation at turn t (index t-1); None = always single-turn."""
    follow_ups: tuple[str, ...] = FOLLOW_UPS
    embeddings_share: float = 0.0
    responses_share: float = 0.0
    completions_share: float = 0.0
    temperatures: tuple[float | None, ...] = (None,)
    top_ps: tuple[float | None, ...] = (None,)
    max_tokens: tuple[int | None, ...] = (None,)
    stream_share: float = 0.0
    tools: tuple[int, ...] = (0,)
    n_values: tuple[int, ...] = (1,)
    logprobs_share: float = 0.0
    top_logprobs: tuple[int, ...] = (0,)
    logit_bias: tuple[int, ...] = (0,)
    seed: int | None = None
    system_prompts: tuple[str | None, ...] = (None,)
    """Hashes of the system prompts used (None = no system prompt), drawn per conversation."""
    system_tokens: int = 0
    p429: float = 0.005
    p5xx: float = 0.002
    p400: float = 0.002
    tokens_per_s: float = 60.0
    ttft_ms: float = 350.0
    first_ua_share: float = 0.92
    """Share of calls with the account's main user agent (others: its secondary tools)."""
    min_messages: int = 1
    """At least this many messages per call: an instruction sent in earlier turns."""
    end_users: tuple[str, ...] = ()
    """End-user ids the account passes (one drawn per conversation); empty = none sent."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One behaviour of one account over ``[t0, t1)`` seconds from the scenario start."""

    t0: float
    t1: float
    hourly_rate: FloatArray
    cv: float
    style: CallStyle
    identity: Identity
    prompts: Callable[[], PromptSource]
    """Makes a fresh prompt source for each run, since a dataset crawl's cursor is mutable."""


_SERVER_ERRORS = (500, 502, 503, 503, 504)


def _pick(values: tuple[Any, ...], r: float) -> Any:
    return values[int(len(values) * r)]


def segment_events(
    segment: Segment,
    *,
    np_rng: np.random.Generator,
    rng: random.Random,
    start_ms: int,
    quantile_probs: FloatArray,
    include_text: bool,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(epoch_ms, event)`` in time order; ``event_id``/``timestamp`` are filled later."""
    style = segment.style
    ident = segment.identity
    prompts = segment.prompts()
    qp = quantile_probs
    # Reasoning share for styles without their own table: uniform 0.3-0.9, the bulk of ServeGen's.
    reason_q = style.reason_ratio_q if style.reason_ratio_q is not None else 0.3 + 0.6 * qp
    keys = ident.api_keys
    key_cum = ident.key_cum_weights
    ips = ident.ips
    uas = ident.user_agents
    turn = 0
    context = 0
    system_hash: str | None = None
    end_user: str | None = None
    end_users = style.end_users
    random_ = rng.random
    for times in renewal_times(np_rng, segment.hourly_rate, cv=segment.cv, t0=segment.t0, t1=segment.t1):
        m = times.size
        ts_list = (np.floor(times * 1000.0).astype(np.int64) + start_ms).tolist()
        if style.input_q is not None:
            ins = np.interp(np_rng.random(m), qp, style.input_q).tolist()
        else:
            ins = [0.0] * m
        outs = np.interp(np_rng.random(m), qp, style.output_q).tolist()
        ratios = np.interp(np_rng.random(m), qp, reason_q).tolist()
        noise = np_rng.lognormal(0.0, 0.3, m).tolist()
        caps = np_rng.beta(12.0, 1.2, m).tolist()
        for i in range(m):
            # --- endpoint and model ---------------------------------------------------------
            r = random_()
            if r < style.embeddings_share:
                endpoint = "embeddings"
            elif r < style.embeddings_share + style.responses_share:
                endpoint = "responses"
            elif r < style.embeddings_share + style.responses_share + style.completions_share:
                endpoint = "completions"
            else:
                endpoint = "chat.completions"
            embedding = endpoint == "embeddings"
            model = EMBEDDING_MODEL if embedding else _pick(style.models, random_())
            # --- conversation ------------------------------------------------------------------
            cont = style.continue_prob
            if cont is not None and not embedding and turn > 0 and random_() < cont[min(turn, len(cont)) - 1]:
                turn += 1
                text = _pick(style.follow_ups, random_())
                prompt_tokens = min(MAX_CONTEXT_TOKENS, context + text_tokens(text))
            else:
                turn = 1
                text = prompts.next(rng)
                system_hash = None if embedding else _pick(style.system_prompts, random_())
                if end_users:
                    end_user = _pick(end_users, random_())
                floor = text_tokens(text) + (style.system_tokens if system_hash else 0)
                prompt_tokens = max(int(ins[i]), floor)
            messages = max(style.min_messages, 2 * turn - 1) + (1 if system_hash is not None else 0)
            # --- parameters --------------------------------------------------------------------
            if embedding:
                temperature = top_p = max_tokens = seed = None
                stream = False
                tools = top_logprobs = logit_bias = 0
                logprobs = False
                n = 1
            else:
                temperature = _pick(style.temperatures, random_())
                top_p = _pick(style.top_ps, random_())
                max_tokens = _pick(style.max_tokens, random_())
                stream = random_() < style.stream_share
                tools = _pick(style.tools, random_())
                n = _pick(style.n_values, random_())
                logprobs = random_() < style.logprobs_share
                top_logprobs = _pick(style.top_logprobs, random_()) if logprobs else 0
                logit_bias = _pick(style.logit_bias, random_())
                seed = style.seed
            # --- outcome -----------------------------------------------------------------------
            r = random_()
            if r < style.p429:
                status = 429
            elif r < style.p429 + style.p5xx:
                status = _pick(_SERVER_ERRORS, random_())
            elif r < style.p429 + style.p5xx + style.p400:
                status = 400
            else:
                status = 200
            reasoning = 0
            if status == 200 and not embedding:
                completion = max(1, int(outs[i]))
                if max_tokens is not None:
                    if style.near_cap and random_() < style.near_cap:
                        completion = max(1, int(max_tokens * caps[i]))
                    completion = min(completion, max_tokens)
                completion *= n
                if model in REASONING_MODELS:
                    reasoning = int(completion * ratios[i])
                latency = style.ttft_ms + 0.02 * prompt_tokens + 1000.0 * completion / style.tokens_per_s
                latency *= noise[i]
            elif status == 200:
                completion = 0
                latency = (25.0 + 0.01 * prompt_tokens) * noise[i]
            else:
                completion = 0
                if status == 429:
                    latency = 12.0 * noise[i]
                    prompt_tokens = 0
                elif status == 400:
                    latency = 30.0 * noise[i]
                    prompt_tokens = 0
                else:
                    latency = 1500.0 * noise[i] * (1 + 10 * random_())
            context = prompt_tokens + completion
            # --- identity ----------------------------------------------------------------------
            if len(keys) == 1:
                key = keys[0]
            else:
                r = random_()
                key = keys[-1]
                for k, c in zip(keys, key_cum, strict=True):
                    if r < c:
                        key = k
                        break
            ip = ips[0] if len(ips) == 1 else _pick(ips, random_())
            ua = uas[0] if len(uas) == 1 or random_() < style.first_ua_share else _pick(uas[1:], random_())
            event: dict[str, Any] = {
                "schema_version": 1,
                "event_id": "",
                "timestamp": "",
                "account_id": ident.account_id,
                "org_id": ident.org_id,
                "api_key_id": key,
                "client_ip": ip,
                "user_agent": ua,
                "endpoint": endpoint,
                "model": model,
                "status": status,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion,
                "reasoning_tokens": reasoning,
                "latency_ms": round(latency, 1),
                "messages": messages,
                "system_prompt_hash": system_hash,
                "prompt": text if include_text else None,
                "params": {
                    "temperature": temperature,
                    "top_p": top_p,
                    "n": n,
                    "max_tokens": max_tokens,
                    "logprobs": logprobs,
                    "top_logprobs": top_logprobs,
                    "logit_bias_size": logit_bias,
                    "stream": stream,
                    "tools": tools,
                    "seed": seed,
                },
            }
            if end_users:
                event["end_user_id"] = end_user
            yield ts_list[i], event


def system_prompt_set(rng: random.Random, count: int, none_tenths: int) -> tuple[str | None, ...]:
    """An account's own system prompts (as hashes), with None in ``none_tenths`` of ten draws."""
    if count == 0:
        return (None,)
    hashes = [hash_text(f"system-prompt-{rng.getrandbits(64):x}") for _ in range(count)]
    slots = 10 - none_tenths
    chosen: list[str | None] = [hashes[i % count] for i in range(max(slots, count))]
    return (*chosen, *([None] * none_tenths))
