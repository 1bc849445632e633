"""Per-account state: small, picklable, O(1) to update, and evicted when idle.

Rates and shares are exponentially decayed sums (half-life ``half_life_seconds``), so one update
touches a fixed number of floats whatever the account's history. The alert window (requests and
tokens over ``window_seconds``) is a ring of 12 buckets. Nothing here holds prompt text: prompt
content arrives as hashes and flags.
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator

from detector.pipeline.features import CALL_SHARES, CALL_SIGNALS, N_CALL, N_TEXT, TEXT_SHARES, EventSignals

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
_LN2 = math.log(2.0)

_TEMPLATE_REPEAT = TEXT_SHARES.index("template_repeat_share")
_DUPLICATE = TEXT_SHARES.index("duplicate_prompt_share")
_DISTILLATION_CALL = TEXT_SHARES.index("distillation_call_share")
_HARVEST_CALL = CALL_SIGNALS.index("harvest_call_share")


class AccountState:
    """Everything the detector remembers about one account, in a few hundred bytes."""

    __slots__ = (
        "account_id",
        "alert_bucket",
        "alert_id",
        "alert_revision",
        "alert_severity_rank",
        "applied_offset",
        "baseline_count",
        "baseline_mean",
        "baseline_var",
        "bucket_head",
        "bucket_requests",
        "bucket_tokens",
        "call_sums",
        "distillation_since",
        "events_since_score",
        "first_seen",
        "gap_sq_sum",
        "gap_sum",
        "gap_weight",
        "infrastructure",
        "last_alert_at",
        "last_scored_at",
        "last_seen",
        "org_id",
        "output_weight",
        "own_harvest_baseline",
        "own_shape_baseline",
        "population_learned_at",
        "recent_pos",
        "recent_prompts",
        "suspicious_since",
        "templates",
        "text_sums",
        "text_weight",
        "token_weight",
        "total_events",
        "weight",
    )

    def __init__(self, account_id: str, org_id: str | None, now: float) -> None:
        self.account_id = account_id
        self.org_id = org_id
        self.first_seen = now
        self.last_seen = now
        self.total_events = 0
        self.weight = 0.0
        self.token_weight = 0.0
        self.output_weight = 0.0
        self.text_weight = 0.0
        self.gap_sum = 0.0
        self.gap_sq_sum = 0.0
        self.gap_weight = 0.0
        self.infrastructure: tuple[int, int, int] = (0, 0, 0)
        self.population_learned_at = -math.inf
        self.suspicious_since = -1.0  # event time its own evidence first crossed the bar (-1 = no)
        self.distillation_since = -1.0  # start of its current run of distillation calls (-1 = none)
        self.own_harvest_baseline = -1.0  # slow average of its harvest-call share (-1 = none)
        self.own_shape_baseline = -1.0  # slow average of the account's distillation shape (-1 = none)
        self.call_sums = array("d", bytes(8 * N_CALL))
        self.text_sums = array("d", bytes(8 * N_TEXT))
        self.templates: dict[int, int] = {}
        self.recent_prompts = array("q", bytes(8 * RECENT_PROMPTS))
        self.recent_pos = 0
        self.bucket_head = -1
        self.bucket_requests = array("q", bytes(8 * WINDOW_BUCKETS))
        self.bucket_tokens = array("q", bytes(8 * WINDOW_BUCKETS))
        self.events_since_score = 0
        self.last_scored_at = now
        self.baseline_mean = 0.0
        self.baseline_var = 0.0
        self.baseline_count = 0
        self.alert_id: str | None = None
        self.alert_bucket = -1
        self.alert_severity_rank = 0
        self.alert_revision = 0
        self.last_alert_at = -math.inf
        self.applied_offset = -1  # input offset of the last event folded in (replay guard)

    # --- update ---------------------------------------------------------------------------------
    def update_one(self, signals: EventSignals, at: float, half_life: float, bucket_seconds: float) -> None:
        """Fold one event in: decay the sums to ``at``, then add the event's signals."""
        if at > self.last_seen:
            gap = at - self.last_seen
            decay = 0.5 ** (gap / half_life)
            self.last_seen = at
        else:  # late event: counted at the account's current time, not used to rewind it
            gap = 0.0
            decay = 1.0
        if self.total_events:
            log_gap = math.log1p(gap)
            self.gap_sum = self.gap_sum * decay + log_gap
            self.gap_sq_sum = self.gap_sq_sum * decay + log_gap * log_gap
            self.gap_weight = self.gap_weight * decay + 1.0
        self.total_events += 1
        self.events_since_score += 1
        self.infrastructure = signals.infrastructure
        self.weight = self.weight * decay + 1.0
        self.token_weight = self.token_weight * decay + signals.tokens
        self.output_weight = self.output_weight * decay + signals.completion_tokens
        sums = self.call_sums
        for i, value in enumerate(signals.call):
            sums[i] = sums[i] * decay + value
        text = self.text_sums
        self.text_weight *= decay
        for i in range(N_TEXT):
            text[i] *= decay
        prompt = signals.prompt
        if prompt is not None:
            self.text_weight += 1.0
            text[0] += prompt.cot_elicitation
            text[1] += prompt.instruction_style
            text[2] += prompt.rubric_grading
            templated = self._count_template(prompt.head_key, prompt.tail_key)
            text[_TEMPLATE_REPEAT] += templated
            text[_DUPLICATE] += self._remember_prompt(prompt.content_key)
            # One call that is the whole distiller's pattern: reasoning asked for on a templated
            # or instruction task, single-turn, with a harvested (long / capped) answer.
            if (
                signals.call[_HARVEST_CALL]
                and prompt.cot_elicitation
                and (prompt.instruction_style or templated)
            ):
                if text[_DISTILLATION_CALL] < DISTILLATION_RUN_FLOOR:
                    self.distillation_since = at  # a new run: nothing recent before this call
                text[_DISTILLATION_CALL] += 1.0
        self._add_to_window(at, signals.tokens, bucket_seconds)

    def _count_template(self, head: int, tail: int) -> float:
        """Space-saving top-k over prompt head/tail hashes; 1.0 when either was seen before."""
        templates = self.templates
        seen = head in templates or tail in templates
        for key in (head, tail):
            if key in templates:
                templates[key] += 1
            elif len(templates) < TEMPLATE_SLOTS:
                templates[key] = 1
            else:  # replace the least frequent key, inheriting its count (space-saving)
                victim = min(templates, key=templates.__getitem__)
                templates[key] = templates.pop(victim) + 1
        return 1.0 if seen else 0.0

    def _remember_prompt(self, content_key: int) -> float:
        recent = self.recent_prompts
        duplicate = content_key in recent and self.total_events > 1
        recent[self.recent_pos] = content_key
        self.recent_pos = (self.recent_pos + 1) % RECENT_PROMPTS
        return 1.0 if duplicate else 0.0

    def _add_to_window(self, at: float, tokens: int, bucket_seconds: float) -> None:
        index = int(at // bucket_seconds)
        head = self.bucket_head
        if index > head:
            for stale in range(max(head + 1, index - WINDOW_BUCKETS + 1), index + 1):
                slot = stale % WINDOW_BUCKETS
                self.bucket_requests[slot] = 0
                self.bucket_tokens[slot] = 0
            self.bucket_head = index
        elif index <= head - WINDOW_BUCKETS:
            return  # older than the window: counted in the rates, not in the window
        slot = index % WINDOW_BUCKETS
        self.bucket_requests[slot] += 1
        self.bucket_tokens[slot] += tokens

    # --- read -----------------------------------------------------------------------------------
    def window_totals(self, bucket_seconds: float) -> tuple[float, int, int]:
        """(window start in epoch seconds, requests, tokens) over the ring's live buckets."""
        requests = sum(self.bucket_requests)
        tokens = sum(self.bucket_tokens)
        start_index = self.bucket_head
        for back in range(WINDOW_BUCKETS - 1, -1, -1):
            index = self.bucket_head - back
            if index >= 0 and self.bucket_requests[index % WINDOW_BUCKETS]:
                start_index = index
                break
        start = max(start_index * bucket_seconds, self.first_seen)
        return start, requests, tokens

    def top_templates(self, count: int = 2) -> list[int]:
        """Hashes of the account's most repeated prompt heads/tails (template fingerprints)."""
        ranked = sorted(self.templates.items(), key=lambda item: (-item[1], item[0]))
        return [key for key, seen in ranked[:count] if seen >= 3]

    def rate_per_hour(
        self, decayed_sum: float, half_life: float, since: float = -1.0, min_age: float = MIN_RATE_AGE_SECONDS
    ) -> float:
        """Turn a decayed sum into a per-hour rate, correcting for a young account's short past
        (or, with ``since``, for the short past of an activity that started at ``since``)."""
        age = max(self.last_seen - max(self.first_seen, since), min_age)
        filled = 1.0 - math.exp(-_LN2 * age / half_life)
        return decayed_sum * _LN2 / (half_life * filled) * 3600.0

    def features(self, half_life: float) -> dict[str, float]:
        """The account's behaviour now, as river-style features (all finite)."""
        weight = self.weight or 1.0
        out = {
            "calls_per_hour": self.rate_per_hour(self.weight, half_life),
            "tokens_per_hour": self.rate_per_hour(self.token_weight, half_life),
            "output_tokens_per_hour": self.rate_per_hour(self.output_weight, half_life),
        }
        for name, value in zip(CALL_SIGNALS, self.call_sums, strict=True):
            out[name] = value / weight
        text_weight = self.text_weight
        for name, value in zip(TEXT_SHARES, self.text_sums, strict=True):
            out[name] = value / text_weight if text_weight > 0.5 else 0.0
        out["text_coverage"] = min(1.0, text_weight / weight)
        # A sweep of logit_bias sizes (probing many tokens) versus one fixed label set.
        bias_mean = out["log_logit_bias_size"]
        out["logit_bias_sweep"] = math.sqrt(max(0.0, out.pop("log_logit_bias_size_sq") - bias_mean**2))
        # Machine rhythm: the spread of log inter-arrival gaps is small for a scheduler, large
        # for people (exponential gaps alone give ~1.3).
        if self.gap_weight >= MIN_GAPS_FOR_RHYTHM:
            mean_gap = self.gap_sum / self.gap_weight
            spread = math.sqrt(max(0.0, self.gap_sq_sum / self.gap_weight - mean_gap * mean_gap))
            out["rhythm_regularity"] = max(0.0, 1.0 - spread / 1.5)
        else:
            out["rhythm_regularity"] = 0.0
        # An established account (a router, a reseller) that starts a run of distillation calls:
        # its rate is the run's, not diluted by the account's quiet past under the half-life.
        out["distillation_calls_per_hour"] = self.rate_per_hour(
            self.text_sums[_DISTILLATION_CALL],
            half_life,
            since=self.distillation_since,
            min_age=MIN_DISTILLATION_RUN_SECONDS,
        )
        # 1 when the run began in an account with a past of other traffic (a router's new "user"),
        # 0 when the account began with it (a new account: its share of such calls decides).
        run_start = self.distillation_since
        out["distillation_run_after_history"] = (
            1.0 if run_start >= 0 and run_start - self.first_seen >= MIN_HISTORY_BEFORE_RUN_SECONDS else 0.0
        )
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
