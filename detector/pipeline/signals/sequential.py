"""Evidence that accumulates over an account's lifetime: a decayed CUSUM of its own evidence.

A campaign that stays under every per-window threshold — a person's pace, natural phrasing,
cover prompts, 25 to 350 calls a day for days — never looks odd in six hours, but it looks a
little odd *every* hour. Page's CUSUM turns that persistence into evidence::

    S <- max(0, decay(S) + calls * (min(e, CAP) - ALLOWANCE))

where ``e`` is the account's extraction-specific evidence (log-odds) at a scoring and ``calls``
the calls it rests on since the last one. An ordinary account's evidence sits below the
allowance almost always, so its S keeps returning to 0; isolated spikes of a quiet account's
noisy shares add at most ``CAP - ALLOWANCE`` per call and decay away (half-life
``HALF_LIFE_SECONDS``). A campaign whose evidence stays above the allowance builds S linearly in
its calls, whatever their rate. ``since`` is when S last left 0: how long the evidence took to
build, which the alert reports.

The state is three floats per account (S, since, time of the last update), kept as an array.
"""

from __future__ import annotations

import math
from array import array

ALLOWANCE = 2.5  # log-odds per call that ordinary accounts stay below
CAP = 7.0  # one scoring's evidence counts at most this much per call
HALF_LIFE_SECONDS = 3 * 86_400.0
FULL_AT = 150.0  # S at which the sequential term counts fully (e.g. 50 calls at 5.5 log-odds)
START_AT = 0.4 * FULL_AT  # below this S the term is 0

_S = 0
_SINCE = 1
_LAST = 2
SIZE = 3


def new_cusum() -> array[float]:
    """A CUSUM at rest."""
    return array("d", [0.0, -1.0, 0.0])


def is_consistent(cusum: array[float]) -> bool:
    return cusum.typecode == "d" and len(cusum) == SIZE and math.isfinite(cusum[_S]) and cusum[_S] >= 0.0


def update_one(cusum: array[float], evidence: float, calls: int, at: float) -> None:
    """Fold one scoring in: ``evidence`` (log-odds) resting on ``calls`` new calls at ``at``."""
    s = cusum[_S]
    if s > 0.0 and at > cusum[_LAST]:
        s *= 2.0 ** ((cusum[_LAST] - at) / HALF_LIFE_SECONDS)
    s = max(0.0, s + calls * (min(evidence, CAP) - ALLOWANCE))
    if s == 0.0:
        cusum[_SINCE] = -1.0
    elif cusum[_SINCE] < 0.0:
        cusum[_SINCE] = at
    cusum[_S] = s
    cusum[_LAST] = max(at, cusum[_LAST])


def strength(cusum: array[float] | None) -> float:
    """0 until S reaches ``START_AT``, 1 from ``FULL_AT`` on."""
    if cusum is None:
        return 0.0
    return max(0.0, min(1.0, (cusum[_S] - START_AT) / (FULL_AT - START_AT)))


def statistic(cusum: array[float] | None) -> float:
    """S itself (0 without a CUSUM)."""
    return 0.0 if cusum is None else cusum[_S]


def building_since(cusum: array[float] | None) -> float:
    """Event time at which the current run of evidence began (-1 when there is none)."""
    return -1.0 if cusum is None else cusum[_SINCE]
