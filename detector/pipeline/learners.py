"""Online learners: the population's view of an account and the account's view of itself.

All of them score before they learn, and learn only from accounts that are not being alerted on
(river's ``AnomalyFilter`` idea): an extraction campaign must not be able to teach the model that
extraction is normal.
"""

from __future__ import annotations

import math

from river import anomaly, stats

from detector.pipeline.signals import form
from detector.pipeline.state import AccountState

# Fixed scale of each feature for HalfSpaceTrees, which splits the unit cube: volume features
# are log-scaled against generous ceilings, shares are already in [0, 1].
_LOG_CALLS_CEILING = math.log1p(100_000.0)
_LOG_TOKENS_CEILING = math.log1p(1e9)
_LOG_TOKENS_PER_CALL_CEILING = math.log1p(200_000.0)
HST_FEATURES: tuple[str, ...] = (
    "calls_per_hour",
    "tokens_per_hour",
    "single_turn_share",
    "near_output_cap_share",
    "low_temperature_share",
    "logprobs_share",
    "logit_bias_share",
    "max_tokens_one_share",
    "log_prompt_tokens",
    "log_completion_tokens",
    "log_output_input_ratio",
    "rhythm_regularity",
    "logit_bias_sweep",
    "reasoning_share",
    "cot_elicitation_share",
    "instruction_style_share",
    "template_repeat_share",
)


def _unit(value: float) -> float:
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value


def to_unit_cube(features: dict[str, float]) -> dict[str, float]:
    """Map an account's features into [0, 1] for HalfSpaceTrees (which assumes that range)."""
    x = {name: _unit(features[name]) for name in HST_FEATURES}
    x["calls_per_hour"] = _unit(math.log1p(features["calls_per_hour"]) / _LOG_CALLS_CEILING)
    x["tokens_per_hour"] = _unit(math.log1p(features["tokens_per_hour"]) / _LOG_TOKENS_CEILING)
    x["log_prompt_tokens"] = _unit(features["log_prompt_tokens"] / _LOG_TOKENS_PER_CALL_CEILING)
    x["log_completion_tokens"] = _unit(features["log_completion_tokens"] / _LOG_TOKENS_PER_CALL_CEILING)
    x["log_output_input_ratio"] = _unit((features["log_output_input_ratio"] + 8.0) / 16.0)
    x["logit_bias_sweep"] = _unit(features["logit_bias_sweep"] / 3.0)
    return x


class Percentile:
    """Decaying histogram on [lo, hi] that answers "what share of peers score below x?".

    Calibrates raw scores into ranks, so thresholds mean "rarer than 99% of peers" whatever the
    raw score's scale. Bins decay so the reference follows the population as it drifts.
    """

    def __init__(self, lo: float, hi: float, bins: int = 200, fading: float = 0.9995) -> None:
        self._lo = lo
        self._width = (hi - lo) / bins
        self._counts = [0.0] * bins
        self._total = 0.0
        self._fading = fading
        self._scale = 1.0  # lazily applied decay: stored counts are divided by this

    def _bin(self, value: float) -> int:
        index = int((value - self._lo) / self._width)
        return 0 if index < 0 else min(index, len(self._counts) - 1)

    def learn_one(self, value: float) -> None:
        self._scale *= self._fading
        if self._scale < 1e-100:  # renormalise before underflow
            self._counts = [c * self._scale for c in self._counts]
            self._total *= self._scale
            self._scale = 1.0
        weight = 1.0 / self._scale
        self._counts[self._bin(value)] += weight
        self._total += weight

    @property
    def n(self) -> float:
        return self._total * self._scale

    @property
    def width(self) -> float:
        """One bin's width: ``quantile`` answers with a bin's upper edge."""
        return self._width

    def rank_one(self, value: float) -> float:
        """Share of the reference strictly below ``value``'s bin plus half of its bin."""
        if self._total <= 0.0:
            return 0.5
        index = self._bin(value)
        below = sum(self._counts[:index]) + 0.5 * self._counts[index]
        return below / self._total

    def quantile(self, q: float) -> float:
        if self._total <= 0.0:
            return self._lo
        target = q * self._total
        running = 0.0
        for index, count in enumerate(self._counts):
            running += count
            if running >= target:
                return self._lo + (index + 1) * self._width
        return self._lo + len(self._counts) * self._width


class PopulationModel:
    """How an account compares with all others: HalfSpaceTrees rank, volume rank, peer means."""

    def __init__(
        self, n_trees: int, height: int, window_size: int, seed: int, peer_mean_signals: tuple[str, ...]
    ) -> None:
        self.trees = anomaly.HalfSpaceTrees(
            n_trees=n_trees, height=height, window_size=window_size, seed=seed
        )
        self.tree_rank = Percentile(0.0, 1.0)
        self.volume_rank = Percentile(0.0, math.log1p(100_000.0))
        self.harvest_rank = Percentile(0.0, math.log1p(1e9))
        # Peer means are kept only for the signals scoring compares with, and read through a
        # copy that changes only when the population learns (far less often than it is asked).
        self.peer_means: dict[str, stats.EWMean] = {
            name: stats.EWMean(fading_factor=0.002) for name in peer_mean_signals
        }
        self._peer_means_now: dict[str, float] | None = None
        self.snapshots = 0

    def score_one(self, features: dict[str, float]) -> tuple[float, float, float]:
        """(anomaly rank, call-volume rank, output-volume rank) against peers; learns nothing."""
        raw = float(self.trees.score_one(to_unit_cube(features)))  # type: ignore[no-untyped-call]
        tree_rank = self.tree_rank.rank_one(raw) if self.tree_rank.n > 50 else 0.5
        volume = math.log1p(features["calls_per_hour"])
        volume_rank = self.volume_rank.rank_one(volume) if self.volume_rank.n > 50 else 0.5
        harvest = math.log1p(features["output_tokens_per_hour"])
        harvest_rank = self.harvest_rank.rank_one(harvest) if self.harvest_rank.n > 50 else 0.5
        return tree_rank, volume_rank, harvest_rank

    def learn_one(self, features: dict[str, float]) -> None:
        """Fold a non-alerting account's snapshot into the population reference."""
        x = to_unit_cube(features)
        self.tree_rank.learn_one(float(self.trees.score_one(x)))  # type: ignore[no-untyped-call]
        self.trees.learn_one(x)  # type: ignore[no-untyped-call]
        self.volume_rank.learn_one(math.log1p(features["calls_per_hour"]))
        self.harvest_rank.learn_one(math.log1p(features["output_tokens_per_hour"]))
        for name, mean in self.peer_means.items():
            mean.update(features[name])
        self._peer_means_now = None
        self.snapshots += 1

    def peer_means_now(self) -> dict[str, float]:
        """The population's mean of each peer-mean signal (0 before it has learned anything).

        Shared between calls until the next ``learn_one``: callers must not change it."""
        now = self._peer_means_now
        if now is None:
            now = self._peer_means_now = {name: float(mean.get()) for name, mean in self.peer_means.items()}
        return now

    def volume_at(self, q: float) -> float:
        """Calls per hour at quantile ``q`` of the population."""
        return math.expm1(self.volume_rank.quantile(q))

    def harvest_at(self, q: float) -> float:
        """Output tokens per hour at quantile ``q`` of the population."""
        return math.expm1(self.harvest_rank.quantile(q))


# A prompt template that at least this many unsuspicious account samples use, and more of them
# than suspicious ones, is a common phrasing rather than one operator's template.
COMMON_TEMPLATE_MIN_SAMPLES = 3.0
MAX_TRACKED_TEMPLATES = 200_000


class TemplatePrevalence:
    """How many sampled accounts use each prompt template, split by whether they looked suspicious.

    Real users share phrasings ("Write a Python function that ...", a popular system prompt pasted
    from a blog), so two accounts repeating the same prompt head is weak evidence of one operator
    unless that head is rare among ordinary accounts. A campaign's template is the opposite: its
    users are (mostly) the suspicious accounts. Each account is sampled at most once per
    population interval, so one busy account counts once, like one vote. Counts are halved when
    the table is full, so it stays bounded and follows drift. The same count, in an instance of
    its own, tells common networks, user agents and request profiles (``Detector.infrastructure``).
    """

    def __init__(self, max_keys: int = MAX_TRACKED_TEMPLATES) -> None:
        self._ordinary: dict[int, float] = {}
        self._suspicious: dict[int, float] = {}
        self._max_keys = max_keys

    def __len__(self) -> int:
        return len(self._ordinary) + len(self._suspicious)

    def learn_one(self, keys: list[int], suspicious: bool) -> None:
        counts = self._suspicious if suspicious else self._ordinary
        for key in keys:
            counts[key] = counts.get(key, 0.0) + 1.0
        if len(counts) > self._max_keys:
            halved = {key: count / 2.0 for key, count in counts.items() if count >= 2.0}
            counts.clear()
            counts.update(halved)

    def is_common(self, key: int) -> bool:
        ordinary = self._ordinary.get(key, 0.0)
        return ordinary >= COMMON_TEMPLATE_MIN_SAMPLES and ordinary > self._suspicious.get(key, 0.0)


# An account needs this many scorings in its own past before a surge against itself counts.
MIN_BASELINE_SCORINGS = 6
_BASELINE_FLOOR_VAR = 0.25


def own_surge(state: AccountState, calls_per_hour: float) -> float:
    """z-score of the current log call rate against the account's own long-run baseline."""
    if state.baseline_count < MIN_BASELINE_SCORINGS:
        return 0.0
    deviation = math.log1p(calls_per_hour) - state.baseline_mean
    return deviation / math.sqrt(state.baseline_var + _BASELINE_FLOOR_VAR)


def learn_own_baseline(state: AccountState, calls_per_hour: float, elapsed: float, half_life: float) -> None:
    """Exponentially weighted mean/variance of the log rate, weighted by elapsed event time."""
    x = math.log1p(calls_per_hour)
    if state.baseline_count == 0:
        state.baseline_mean = x
        state.baseline_var = 0.0
    else:
        alpha = min(1.0, max(0.01, 1.0 - 0.5 ** (elapsed / half_life)))
        delta = x - state.baseline_mean
        state.baseline_mean += alpha * delta
        state.baseline_var = (1.0 - alpha) * (state.baseline_var + alpha * delta * delta)
    state.baseline_count += 1


# An account's usual starts as the plain mean of this many scorings, then follows slowly.
USUAL_WARMUP_SCORINGS = 32


def _slow_average(current: float, value: float, elapsed: float, half_life: float, count: int) -> float:
    if current < 0:
        return value
    # Weighted by event time: a busy account is scored far more often than a quiet one, and a
    # per-scoring weight would make its "usual" follow a new habit within hours, not days. Over
    # its first USUAL_WARMUP_SCORINGS scorings, though, the usual is their plain mean: a young
    # account's usual is what it has done since it began, not its first call's share held for
    # days (which made a quiet account that harvests from the start look as if it had just
    # begun to). A busy account is past that within its first hour, so a change after it (a
    # router's new user that is a crawler) is measured against the slow usual as before.
    alpha = 1.0 - math.exp(-math.log(2.0) * elapsed / half_life)
    if count <= USUAL_WARMUP_SCORINGS:
        alpha = max(alpha, 1.0 / max(count, 1))
    return current + min(1.0, max(0.0, alpha)) * (value - current)


def learn_own_shape(
    state: AccountState, features: dict[str, float], elapsed: float, half_life: float, share_memory: float
) -> None:
    """Slow averages of what the account usually asks, to see it shift (a router's new user).
    Called after ``learn_own_baseline`` has counted this scoring.

    A scoring weighs the event time since the last one, but at most ``share_memory`` (the
    shares' own half-life): its shares describe the last hour or so, not an idle night. Without
    the cap an eval lab's first call of each day's run, a share resting on one call, weighed the
    20 h since the last run, pulled its usual down day after day until the run itself read as
    a surge against it."""
    count = state.baseline_count
    weighed = min(elapsed, share_memory)
    state.own_shape_baseline = _slow_average(
        state.own_shape_baseline, features["distillation_shape"], weighed, half_life, count
    )
    state.own_harvest_baseline = _slow_average(
        state.own_harvest_baseline, features["harvest_call_share"], weighed, half_life, count
    )


class FormReference:
    """The population's prompt form (signals/form.py): where ordinary accounts' mean forms lie,
    how far they spread, and how far from the centre they usually are.

    Learns from the same unsuspicious account snapshots as ``PopulationModel``, each resting on
    ``form.MIN_PROMPTS`` prompts or more, so an account's distance is ranked against ordinary
    accounts of a comparable sample size: the calibrated null of the two-sample test. Centre
    and spread are running moments whose rate is 1/n until it reaches ``fading`` (river's
    exponentially weighted ones start from zero and take a thousand samples to forget it).
    """

    MIN_REFERENCE = 200  # snapshots before ranks are given (0.5 until then)
    REFRESH_EVERY = 64  # learned snapshots between refreshes of the cached rank floor

    def __init__(self, fading: float = 0.002) -> None:
        self.fading = fading
        self.learned = 0
        self.centre = [0.0] * form.FORM_SIZE
        self.variance = [0.0] * form.FORM_SIZE
        self.distances = Percentile(0.0, math.log1p(10_000.0))
        self._spread_now: tuple[tuple[float, ...], tuple[float, ...]] | None = None
        self._weights: form.DistanceWeights = ()
        self._floors: dict[float, float] = {}  # rank -> log distance at it, until the refresh

    def _spread(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        # Shared between scorings until the next learn_one. A floor keeps a feature that ordinary
        # accounts barely vary on from turning a hair's difference into a large distance.
        if self._spread_now is None:
            spread = tuple(max(math.sqrt(var), 0.02) for var in self.variance)
            self._spread_now = (tuple(self.centre), spread)
            self._weights = form.distance_weights(*self._spread_now)
        return self._spread_now

    def _distance(self, means: tuple[float, ...]) -> float:
        self._spread()
        return form.distance(means, self._weights)

    def score_one(self, means: tuple[float, ...], from_rank: float) -> tuple[float, float, tuple[float, ...]]:
        """(rank among ordinary accounts, distance, standardised deviation per feature); learns
        nothing. A rank below ``from_rank`` is given as 0 with no deviations: most accounts are
        nowhere near it, and a distance below the cached floor needs no walk through the
        histogram."""
        value = self._distance(means)
        if self.distances.n < self.MIN_REFERENCE:
            return 0.5, value, ()
        log_value = math.log1p(value)
        floor = self._floors.get(from_rank)
        if floor is None:
            floor = self._floors[from_rank] = self.distances.quantile(from_rank) - self.distances.width
        if log_value < floor:
            return 0.0, value, ()
        return self.distances.rank_one(log_value), value, form.deviations(means, *self._spread())

    def median_distance(self) -> float:
        """The ordinary account's distance (quoted as the baseline in reasons)."""
        return math.expm1(self.distances.quantile(0.5))

    def learn_one(self, means: tuple[float, ...]) -> None:
        """Fold an unsuspicious account's mean form in (score before learn: its distance is
        taken against the reference as it was, once there is one)."""
        if self.learned >= self.MIN_REFERENCE // 4:
            self.distances.learn_one(math.log1p(self._distance(means)))
        self.learned += 1
        rate = max(1.0 / self.learned, self.fading)
        centre = self.centre
        deltas = [value - mu for value, mu in zip(means, centre, strict=True)]
        self.centre = [mu + rate * delta for mu, delta in zip(centre, deltas, strict=True)]
        self.variance = [
            (1.0 - rate) * (var + rate * delta * delta)
            for var, delta in zip(self.variance, deltas, strict=True)
        ]
        self._spread_now = None
        if self.learned % self.REFRESH_EVERY == 0:
            self._floors.clear()
