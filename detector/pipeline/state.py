"""Per-account state: small, O(1) to update, and evicted when idle.

Rates and shares are exponentially decayed sums (half-life ``half_life_seconds``). They are
decayed lazily: a sum is kept scaled by ``2 ** ((t_ref - t) / half_life)`` relative to a reference
time ``t_ref``, so an event at time ``t`` only adds ``value * 2 ** ((t - t_ref) / half_life)`` to
the sums its non-zero signals touch, and no sum is decayed per event. Reading a rate undoes the
scale once; a share is a ratio of two sums kept at the same scale, so it needs no rescaling at all.
When the scale grows large the sums are rebased to the current time, which keeps them finite.

Memory is the other constraint (a worker holds up to millions of mostly idle accounts), so the
numbers live in flat typed arrays rather than in one Python object per number: ``reals``
(float64: decayed sums and rarely changed floats), ``counters`` (int64: the alert window ring and
alert bookkeeping), ``hashes`` (uint32: recent prompt hashes and infrastructure hashes) and the
space-saving template counter's ``template_keys`` (uint32) and ``template_counts`` (int64). The
hashes are CRC-32 values (``content.py``, ``features.py``); a wider one would not fit and would
raise rather than be truncated. Fields that code outside this module reads or writes by name
stay attributes, backed by the arrays where they are not hot.

The alert window (requests and tokens over ``window_seconds``) is a ring of 12 buckets. Nothing
here holds prompt text: prompt content arrives as hashes and flags.
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from itertools import compress
from typing import TYPE_CHECKING, overload

from detector.pipeline.features import CALL_SHARES, CALL_SIGNALS, N_CALL, TEXT_SHARES, EventSignals
from detector.pipeline.signals import form as prompt_form
from detector.pipeline.signals import novelty
from detector.pipeline.signals.sequential import is_consistent as cusum_is_consistent
from detector.pipeline.signals.sketch import is_consistent as sketch_is_consistent
from detector.pipeline.signals.sketch import statistics as sketch_statistics

WINDOW_BUCKETS = 12
TEMPLATE_SLOTS = 8
RECENT_PROMPTS = 8
# A freshly seen account has too little history to turn counts into rates; treat it as at least
# this old so that its first few calls do not read as an enormous rate.
MIN_RATE_AGE_SECONDS = 300.0
MIN_GAPS_FOR_RHYTHM = 8.0
# Distillation calls whose decayed count fell below this are history: the next one starts a new
# run, and its rate is measured from then (as for a new account) rather than diluted by the
# quiet hours before it. Runs shorter than the minimum age are measured over that age.
DISTILLATION_RUN_FLOOR = 0.5
MIN_DISTILLATION_RUN_SECONDS = 900.0
MIN_HISTORY_BEFORE_RUN_SECONDS = 3600.0
# Scaled sums grow by 2x per half-life of the account's activity; past this many half-lives they
# are rebased (a few dozen multiplications, once per days of activity) so that they stay finite.
REBASE_HALF_LIVES = 64.0
_LN2 = math.log(2.0)

# The layout of the three arrays, by field name. Each index constant below is looked up here, so
# the names are the documentation; the changelog's migration of older records uses them too.
DECAYED_FIELDS: tuple[str, ...] = (
    *CALL_SIGNALS,
    *TEXT_SHARES,
    "weight",
    "token_weight",
    "output_weight",
    "text_weight",
    "gap_sum",
    "gap_sq_sum",
    "gap_weight",
)
REAL_FIELDS: tuple[str, ...] = (
    *DECAYED_FIELDS,  # scaled to the reference time "decay_ref"
    "decay_ref",
    "first_seen",
    "population_learned_at",
    "suspicious_since",  # event time its own evidence first crossed the bar (-1 = no)
    "own_harvest_baseline",  # slow average of its harvest-call share (-1 = none)
    "own_shape_baseline",  # slow average of the account's distillation shape (-1 = none)
    "baseline_mean",
    "baseline_var",
    "last_alert_at",
    "distillation_since",  # start of its current run of distillation calls (-1 = none)
)
COUNTER_FIELDS: tuple[str, ...] = (
    "bucket_head",  # index (event time // bucket length) of the newest window bucket (-1 = none)
    "recent_pos",
    "baseline_count",
    "alert_bucket",
    "alert_severity_rank",
    "alert_revision",
    "applied_offset",  # input offset of the last event folded in (replay guard)
    *(f"bucket_requests_{i}" for i in range(WINDOW_BUCKETS)),
    *(f"bucket_tokens_{i}" for i in range(WINDOW_BUCKETS)),
)
HASH_FIELDS: tuple[str, ...] = (
    *(f"recent_prompt_{i}" for i in range(RECENT_PROMPTS)),
    "network",
    "user_agent",
    "system_prompt",
    "request_profile",
)
N_DECAYED = len(DECAYED_FIELDS)
N_REALS = len(REAL_FIELDS)
N_COUNTERS = len(COUNTER_FIELDS)
N_HASHES = len(HASH_FIELDS)

_TEXT = REAL_FIELDS.index(TEXT_SHARES[0])
_WEIGHT = REAL_FIELDS.index("weight")
_TOKEN_WEIGHT = REAL_FIELDS.index("token_weight")
_OUTPUT_WEIGHT = REAL_FIELDS.index("output_weight")
_TEXT_WEIGHT = REAL_FIELDS.index("text_weight")
_GAP_SUM = REAL_FIELDS.index("gap_sum")
_GAP_SQ_SUM = REAL_FIELDS.index("gap_sq_sum")
_GAP_WEIGHT = REAL_FIELDS.index("gap_weight")
_DECAY_REF = REAL_FIELDS.index("decay_ref")
_FIRST_SEEN = REAL_FIELDS.index("first_seen")
_POPULATION_LEARNED_AT = REAL_FIELDS.index("population_learned_at")
_SUSPICIOUS_SINCE = REAL_FIELDS.index("suspicious_since")
_OWN_HARVEST_BASELINE = REAL_FIELDS.index("own_harvest_baseline")
_OWN_SHAPE_BASELINE = REAL_FIELDS.index("own_shape_baseline")
_BASELINE_MEAN = REAL_FIELDS.index("baseline_mean")
_BASELINE_VAR = REAL_FIELDS.index("baseline_var")
_LAST_ALERT_AT = REAL_FIELDS.index("last_alert_at")
_DISTILLATION_SINCE = REAL_FIELDS.index("distillation_since")
_COT = REAL_FIELDS.index("cot_elicitation_share")
_INSTRUCTION = REAL_FIELDS.index("instruction_style_share")
_RUBRIC = REAL_FIELDS.index("rubric_grading_share")
_TEMPLATE_REPEAT = REAL_FIELDS.index("template_repeat_share")
_DUPLICATE = REAL_FIELDS.index("duplicate_prompt_share")
_DISTILLATION_CALL = REAL_FIELDS.index("distillation_call_share")
_HARVEST_CALL = CALL_SIGNALS.index("harvest_call_share")
_LOW_TEMPERATURE = CALL_SIGNALS.index("low_temperature_share")
_CALL_INDEXES = range(N_CALL)  # the call signals are the first N_CALL reals

_BUCKET_HEAD = COUNTER_FIELDS.index("bucket_head")
_RECENT_POS = COUNTER_FIELDS.index("recent_pos")
_BASELINE_COUNT = COUNTER_FIELDS.index("baseline_count")
_ALERT_BUCKET = COUNTER_FIELDS.index("alert_bucket")
_ALERT_SEVERITY_RANK = COUNTER_FIELDS.index("alert_severity_rank")
_ALERT_REVISION = COUNTER_FIELDS.index("alert_revision")
_APPLIED_OFFSET = COUNTER_FIELDS.index("applied_offset")
_REQUESTS = COUNTER_FIELDS.index("bucket_requests_0")
_TOKENS = COUNTER_FIELDS.index("bucket_tokens_0")

_RECENT = HASH_FIELDS.index("recent_prompt_0")
_NETWORK = HASH_FIELDS.index("network")
_USER_AGENT = HASH_FIELDS.index("user_agent")
_SYSTEM_PROMPT = HASH_FIELDS.index("system_prompt")
_REQUEST_PROFILE = HASH_FIELDS.index("request_profile")

if TYPE_CHECKING:
    from detector.pipeline.feedback import AccountFeedback

if array("I").itemsize != 4:  # pragma: no cover - every supported platform has a 32-bit C int
    raise RuntimeError("array('I') is not 32 bits on this platform")


def _initial_reals() -> array[float]:
    reals = array("d", [0.0]) * N_REALS
    reals[_POPULATION_LEARNED_AT] = -math.inf
    reals[_SUSPICIOUS_SINCE] = -1.0
    reals[_OWN_HARVEST_BASELINE] = -1.0
    reals[_OWN_SHAPE_BASELINE] = -1.0
    reals[_LAST_ALERT_AT] = -math.inf
    reals[_DISTILLATION_SINCE] = -1.0
    return reals


def _initial_counters() -> array[int]:
    counters = array("q", [0]) * N_COUNTERS
    counters[_BUCKET_HEAD] = -1
    counters[_ALERT_BUCKET] = -1
    counters[_APPLIED_OFFSET] = -1
    return counters


# Fresh arrays are slices of these (an exact-size copy; building from bytes over-allocates).
_REALS = _initial_reals()
_COUNTERS = _initial_counters()
_HASHES = array("I", [0]) * N_HASHES


class _Real:
    """An attribute of ``AccountState`` stored in its ``reals`` array (no float object per value)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    @overload
    def __get__(self, state: None, owner: type[AccountState]) -> _Real: ...
    @overload
    def __get__(self, state: AccountState, owner: type[AccountState]) -> float: ...
    def __get__(self, state: AccountState | None, owner: type[AccountState]) -> float | _Real:
        return self if state is None else state.reals[self.index]

    def __set__(self, state: AccountState, value: float) -> None:
        state.reals[self.index] = value


class _Counter:
    """An attribute of ``AccountState`` stored in its ``counters`` array (no int object per value)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    @overload
    def __get__(self, state: None, owner: type[AccountState]) -> _Counter: ...
    @overload
    def __get__(self, state: AccountState, owner: type[AccountState]) -> int: ...
    def __get__(self, state: AccountState | None, owner: type[AccountState]) -> int | _Counter:
        return self if state is None else state.counters[self.index]

    def __set__(self, state: AccountState, value: int) -> None:
        state.counters[self.index] = value


class AccountState:
    """Everything the detector remembers about one account, in about a kilobyte."""

    __slots__ = (
        "account_id",
        "alert_id",
        "counters",
        "cusum",
        "end_user_id",
        "events_since_score",
        "feedback",
        "form",
        "hashes",
        "last_depth",
        "last_scored_at",
        "last_seen",
        "novelty",
        "org_id",
        "reals",
        "sketch",
        "template_counts",
        "template_keys",
        "total_events",
    )

    first_seen = _Real(_FIRST_SEEN)
    population_learned_at = _Real(_POPULATION_LEARNED_AT)
    suspicious_since = _Real(_SUSPICIOUS_SINCE)
    own_harvest_baseline = _Real(_OWN_HARVEST_BASELINE)
    own_shape_baseline = _Real(_OWN_SHAPE_BASELINE)
    baseline_mean = _Real(_BASELINE_MEAN)
    baseline_var = _Real(_BASELINE_VAR)
    last_alert_at = _Real(_LAST_ALERT_AT)
    distillation_since = _Real(_DISTILLATION_SINCE)
    baseline_count = _Counter(_BASELINE_COUNT)
    alert_bucket = _Counter(_ALERT_BUCKET)
    alert_severity_rank = _Counter(_ALERT_SEVERITY_RANK)
    alert_revision = _Counter(_ALERT_REVISION)
    applied_offset = _Counter(_APPLIED_OFFSET)

    def __init__(self, account_id: str, org_id: str | None, now: float) -> None:
        self.account_id = account_id
        self.org_id = org_id
        self.alert_id: str | None = None
        # Set on the state of one end user inside a shared account (signals/subaccounts.py).
        self.end_user_id: str | None = None
        # Episode, verdict and declaration (pipeline/feedback.py); None for the accounts that
        # never alerted and were never told about, i.e. nearly all of them.
        self.feedback: AccountFeedback | None = None
        self.last_seen = now
        self.last_scored_at = now
        self.total_events = 0
        self.events_since_score = 0
        self.last_depth = 0  # conversation depth of the last call (features.conversation_depth)
        reals = _REALS[:]
        reals[_DECAY_REF] = now
        reals[_FIRST_SEEN] = now
        self.reals = reals
        self.counters = _COUNTERS[:]
        self.hashes = _HASHES[:]
        # Space-saving top-TEMPLATE_SLOTS prompt head/tail hashes (uint32) and their counts, in
        # insertion order. Arrays of their own, so that lookup, minimum and removal run in C.
        self.template_keys = array("I")
        self.template_counts = array("q")
        # The prompt-distribution sketch (signals/sketch.py), made on the first prompt with text.
        self.sketch: array[float] | None = None
        # How its prompts are written, as running means (signals/form.py); same cadence.
        self.form: array[float] | None = None
        # Lifetime evidence (signals/sequential.py), made when the account first shows any.
        self.cusum: array[float] | None = None
        # Sampled prompt hashes: repeats at deterministic sampling (signals/novelty.py).
        self.novelty: array[int] | None = None

    @property
    def infrastructure(self) -> tuple[int, int, int, int]:
        """Hashes of the last event's client network, user agent, system prompt (0 = none) and
        request profile."""
        hashes = self.hashes
        return hashes[_NETWORK], hashes[_USER_AGENT], hashes[_SYSTEM_PROMPT], hashes[_REQUEST_PROFILE]

    @property
    def request_profile(self) -> int:
        """Hash of how the account's last scored call was made (``features.profile_key``)."""
        return self.hashes[_REQUEST_PROFILE]

    @request_profile.setter
    def request_profile(self, key: int) -> None:
        self.hashes[_REQUEST_PROFILE] = key

    # --- update ---------------------------------------------------------------------------------
    def update_one(self, signals: EventSignals, at: float, half_life: float, bucket_seconds: float) -> None:
        """Fold one event in: add its non-zero signals, scaled to the sums' reference time."""
        reals = self.reals
        last = self.last_seen
        if at > last:
            gap = at - last
            self.last_seen = now = at
        else:  # late event: counted at the account's current time, not used to rewind it
            gap = 0.0
            now = last
        elapsed = (now - reals[_DECAY_REF]) / half_life
        if elapsed > REBASE_HALF_LIVES:
            self._rebase(now, elapsed)
            scale = 1.0
        else:
            scale = 2.0**elapsed
        if self.total_events:
            reals[_GAP_WEIGHT] += scale
            if gap:
                log_gap = math.log1p(gap)
                scaled = log_gap * scale
                reals[_GAP_SUM] += scaled
                reals[_GAP_SQ_SUM] += scaled * log_gap
        self.total_events += 1
        self.events_since_score += 1
        hashes = self.hashes
        hashes[_NETWORK], hashes[_USER_AGENT], hashes[_SYSTEM_PROMPT] = signals.infrastructure
        reals[_WEIGHT] += scale
        reals[_TOKEN_WEIGHT] += signals.tokens * scale
        reals[_OUTPUT_WEIGHT] += signals.answer_tokens * scale
        call = signals.call
        for i in compress(_CALL_INDEXES, call):  # most signals of most calls are 0
            reals[i] += call[i] * scale
        prompt = signals.prompt
        if prompt is not None:
            reals[_TEXT_WEIGHT] += scale
            if prompt.cot_elicitation:
                reals[_COT] += scale
            if prompt.instruction_style:
                reals[_INSTRUCTION] += scale
            if prompt.rubric_grading:
                reals[_RUBRIC] += scale
            templated = self._count_template(prompt.head_key, prompt.tail_key)
            if templated:
                reals[_TEMPLATE_REPEAT] += scale
            if self._remember_prompt(prompt.content_key):
                reals[_DUPLICATE] += scale
            # (From the second call on: the many accounts seen once keep no memory at all.)
            if self.total_events > 1:
                self.novelty = novelty.observe_one(
                    self.novelty, prompt.content_key, call[_LOW_TEMPERATURE] > 0.0
                )
            # One call that is the whole distiller's pattern: reasoning asked for on a templated
            # or instruction task, single-turn, with a harvested (long / capped) answer.
            if call[_HARVEST_CALL] and prompt.cot_elicitation and (prompt.instruction_style or templated):
                if reals[_DISTILLATION_CALL] < DISTILLATION_RUN_FLOOR * scale:
                    reals[_DISTILLATION_SINCE] = now  # a new run: nothing recent before this call
                reals[_DISTILLATION_CALL] += scale
        self._add_to_window(at, signals.tokens, bucket_seconds)

    def _rebase(self, now: float, elapsed: float) -> None:
        """Move the sums' reference time to ``now`` (underflow to 0 is the right answer)."""
        reals = self.reals
        factor = 2.0**-elapsed
        for i in range(N_DECAYED):
            reals[i] *= factor
        reals[_DECAY_REF] = now

    def _count_template(self, head: int, tail: int) -> bool:
        """Space-saving top-k over prompt head/tail hashes; True when either was seen before.

        Keys are kept in insertion order, so that the victim (the first least frequent key) and
        the order of ties are those of an insertion-ordered dict."""
        keys = self.template_keys
        counts = self.template_counts
        seen = head in keys or tail in keys
        for key in (head, tail):
            if key in keys:
                counts[keys.index(key)] += 1
            elif len(keys) < TEMPLATE_SLOTS:
                keys.append(key)
                counts.append(1)
            else:  # replace the least frequent key, inheriting its count (space-saving)
                least = min(counts)
                victim = counts.index(least)
                del keys[victim]
                del counts[victim]
                keys.append(key)
                counts.append(least + 1)
        return seen

    def _remember_prompt(self, content_key: int) -> bool:
        hashes = self.hashes
        counters = self.counters
        duplicate = content_key in hashes[_RECENT : _RECENT + RECENT_PROMPTS] and self.total_events > 1
        pos = counters[_RECENT_POS]
        hashes[_RECENT + pos] = content_key
        counters[_RECENT_POS] = (pos + 1) % RECENT_PROMPTS
        return duplicate

    def _add_to_window(self, at: float, tokens: int, bucket_seconds: float) -> None:
        counters = self.counters
        index = int(at // bucket_seconds)
        head = counters[_BUCKET_HEAD]
        if index > head:
            for stale in range(max(head + 1, index - WINDOW_BUCKETS + 1), index + 1):
                slot = stale % WINDOW_BUCKETS
                counters[_REQUESTS + slot] = 0
                counters[_TOKENS + slot] = 0
            counters[_BUCKET_HEAD] = index
        elif index <= head - WINDOW_BUCKETS:
            return  # older than the window: counted in the rates, not in the window
        slot = index % WINDOW_BUCKETS
        counters[_REQUESTS + slot] += 1
        counters[_TOKENS + slot] += tokens

    # --- read -----------------------------------------------------------------------------------
    def window_totals(self, bucket_seconds: float) -> tuple[float, int, int]:
        """(window start in epoch seconds, requests, tokens) over the ring's live buckets."""
        counters = self.counters
        requests = sum(counters[_REQUESTS : _REQUESTS + WINDOW_BUCKETS])
        tokens = sum(counters[_TOKENS : _TOKENS + WINDOW_BUCKETS])
        head = counters[_BUCKET_HEAD]
        start_index = head
        for back in range(WINDOW_BUCKETS - 1, -1, -1):
            index = head - back
            if index >= 0 and counters[_REQUESTS + index % WINDOW_BUCKETS]:
                start_index = index
                break
        start = max(start_index * bucket_seconds, self.first_seen)
        return start, requests, tokens

    def top_templates(self, count: int = 2) -> list[int]:
        """Hashes of the account's most repeated prompt heads/tails (template fingerprints)."""
        ranked = sorted(
            zip(self.template_keys, self.template_counts, strict=True), key=lambda item: (-item[1], item[0])
        )
        return [key for key, seen in ranked[:count] if seen >= 3]

    def decayed(self, name: str, half_life: float) -> float:
        """The decayed sum ``name`` (one of ``DECAYED_FIELDS``) as of the account's last event."""
        reals = self.reals
        unscale: float = 2.0 ** ((reals[_DECAY_REF] - self.last_seen) / half_life)
        return reals[REAL_FIELDS.index(name)] * unscale

    def is_consistent(self) -> bool:
        """True when the arrays have the shapes and ranges ``update_one`` relies on: a state
        restored from bytes someone else wrote is checked with this before it is used."""
        return (
            len(self.reals) == N_REALS
            and len(self.counters) == N_COUNTERS
            and len(self.hashes) == N_HASHES
            and 0 <= self.counters[_RECENT_POS] < RECENT_PROMPTS
            and len(self.template_keys) == len(self.template_counts) <= TEMPLATE_SLOTS
            and (self.sketch is None or sketch_is_consistent(self.sketch))
            and (self.form is None or prompt_form.is_consistent(self.form))
            and (self.cusum is None or cusum_is_consistent(self.cusum))
            and (self.novelty is None or novelty.is_consistent(self.novelty))
        )

    def rate_per_hour(
        self, decayed_sum: float, half_life: float, since: float = -1.0, min_age: float = MIN_RATE_AGE_SECONDS
    ) -> float:
        """Turn a decayed sum into a per-hour rate, correcting for a young account's short past
        (or, with ``since``, for the short past of an activity that started at ``since``)."""
        age = max(self.last_seen - max(self.first_seen, since), min_age)
        filled = 1.0 - math.exp(-_LN2 * age / half_life)
        return decayed_sum * _LN2 / (half_life * filled) * 3600.0

    def features(self, half_life: float) -> dict[str, float]:
        """The account's behaviour now, as river-style features (all finite).

        Shares divide two sums kept at the same scale, so only rates and thresholds on decayed
        counts need the scale undone."""
        reals = self.reals
        unscale = 2.0 ** ((reals[_DECAY_REF] - self.last_seen) / half_life)
        weight = reals[_WEIGHT] or 1.0
        out = {
            "calls_per_hour": self.rate_per_hour(reals[_WEIGHT] * unscale, half_life),
            "tokens_per_hour": self.rate_per_hour(reals[_TOKEN_WEIGHT] * unscale, half_life),
            "output_tokens_per_hour": self.rate_per_hour(reals[_OUTPUT_WEIGHT] * unscale, half_life),
        }
        for name, value in zip(CALL_SIGNALS, reals[:N_CALL], strict=True):
            out[name] = value / weight
        text_weight = reals[_TEXT_WEIGHT]
        has_text = text_weight * unscale > 0.5
        for name, value in zip(TEXT_SHARES, reals[_TEXT:_WEIGHT], strict=True):
            out[name] = value / text_weight if has_text else 0.0
        out["text_coverage"] = min(1.0, text_weight / weight)
        # How many calls the decayed shares rest on (their effective sample size).
        out["recent_calls"] = weight * unscale
        out["history_hours"] = (self.last_seen - self.first_seen) / 3600.0
        # A sweep of logit_bias sizes (probing many tokens) versus one fixed label set.
        bias_mean = out["log_logit_bias_size"]
        out["logit_bias_sweep"] = math.sqrt(max(0.0, out.pop("log_logit_bias_size_sq") - bias_mean**2))
        # Machine rhythm: the spread of log inter-arrival gaps is small for a scheduler, large
        # for people (exponential gaps alone give ~1.3).
        gap_weight = reals[_GAP_WEIGHT]
        if gap_weight * unscale >= MIN_GAPS_FOR_RHYTHM:
            mean_gap = reals[_GAP_SUM] / gap_weight
            spread = math.sqrt(max(0.0, reals[_GAP_SQ_SUM] / gap_weight - mean_gap * mean_gap))
            out["rhythm_regularity"] = max(0.0, 1.0 - spread / 1.5)
        else:
            out["rhythm_regularity"] = 0.0
        # An established account (a router, a reseller) that starts a run of distillation calls:
        # its rate is the run's, not diluted by the account's quiet past under the half-life.
        run_start = reals[_DISTILLATION_SINCE]
        out["distillation_calls_per_hour"] = self.rate_per_hour(
            reals[_DISTILLATION_CALL] * unscale,
            half_life,
            since=run_start,
            min_age=MIN_DISTILLATION_RUN_SECONDS,
        )
        # 1 when the run began in an account with a past of other traffic (a router's new "user"),
        # 0 when the account began with it (a new account: its share of such calls decides).
        out["distillation_run_after_history"] = (
            1.0 if run_start >= 0 and run_start - self.first_seen >= MIN_HISTORY_BEFORE_RUN_SECONDS else 0.0
        )
        out.update(sketch_statistics(self.sketch))
        out["form_prompts"] = prompt_form.prompts_read(self.form)
        out["harvest_yield"] = novelty.harvest_yield(self.novelty)
        # The distiller's shape: single-turn calls that ask for reasoning on templated tasks.
        out["distillation_shape"] = (
            out["cot_elicitation_share"]
            * max(out["instruction_style_share"], out["template_repeat_share"])
            * out["single_turn_share"]
        )
        return out


SHARE_FEATURES = (*CALL_SHARES, *TEXT_SHARES)


class AccountStore:
    """Accounts by id, least recently seen first, with TTL and size-cap eviction."""

    def __init__(self, ttl_seconds: float, max_accounts: int, track_removals: bool = False) -> None:
        self._accounts: OrderedDict[str, AccountState] = OrderedDict()
        self._ttl = ttl_seconds
        self._max = max_accounts
        self.evicted = 0
        # Ids evicted since the owner last drained this list: the tombstones a state changelog
        # must write (None = nobody drains it, so nothing is kept).
        self.removed: list[str] | None = [] if track_removals else None

    def __len__(self) -> int:
        return len(self._accounts)

    def __iter__(self) -> Iterator[AccountState]:
        return iter(self._accounts.values())

    def get(self, account_id: str) -> AccountState | None:
        return self._accounts.get(account_id)

    def get_or_create(self, account_id: str, org_id: str | None, at: float) -> AccountState:
        state = self._accounts.get(account_id)
        if state is None:
            state = AccountState(account_id, org_id, at)
            self._accounts[account_id] = state
            if len(self._accounts) > self._max:
                evicted_id, _ = self._accounts.popitem(last=False)
                self.evicted += 1
                if self.removed is not None:
                    self.removed.append(evicted_id)
        else:
            self._accounts.move_to_end(account_id)
            if org_id is not None:
                state.org_id = org_id
        return state

    def expire(self, watermark: float) -> int:
        """Forget accounts idle for longer than the TTL before ``watermark`` (event time)."""
        expired = 0
        horizon = watermark - self._ttl
        accounts = self._accounts
        while accounts:
            oldest = next(iter(accounts.values()))
            if oldest.last_seen >= horizon:
                break
            expired_id, _ = accounts.popitem(last=False)
            expired += 1
            if self.removed is not None:
                self.removed.append(expired_id)
        self.evicted += expired
        return expired

    def load(self, states: Iterable[AccountState]) -> None:
        """Replace the contents with restored accounts, least recently seen first (the order the
        TTL sweep and the size cap rely on)."""
        self._accounts = OrderedDict((s.account_id, s) for s in sorted(states, key=lambda s: s.last_seen))
        while len(self._accounts) > self._max:  # the cap was lowered since the state was saved
            evicted_id, _ = self._accounts.popitem(last=False)
            self.evicted += 1
            if self.removed is not None:
                self.removed.append(evicted_id)


class DedupWindow:
    """The last N event ids, to drop redelivered events without counting them twice."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._order: deque[int] = deque()
        self._seen: set[int] = set()

    def seen_before(self, event_id: str) -> bool:
        """True if ``event_id`` is in the window; otherwise remember it and return False."""
        if self._capacity == 0:
            return False
        key = hash(event_id)
        if key in self._seen:
            return True
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > self._capacity:
            self._seen.discard(self._order.popleft())
        return False
