"""When an account calls: a Gamma renewal process with an hourly rate, by time rescaling.

ServeGen fits the inter-arrival times of every client and 10-minute window with a Gamma or Weibull
distribution and reports their coefficient of variation (CV): about 1.2-1.5 for a typical
client, far above it for bursty ones. We draw unit-mean Gamma gaps with that CV in "operational
time" and map them through the cumulative intensity of an hourly rate series, which keeps both
the burstiness within an hour and the shape of the day. CV < 1 gives the regular rhythm of a
script; CV ≈ 0.1 is a metronome.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from detector.simulate.reference import FloatArray

HOUR_S = 3600.0


def renewal_times(
    rng: np.random.Generator,
    hourly_rate: FloatArray,
    *,
    cv: float,
    t0: float,
    t1: float,
    batch: int = 512,
) -> Iterator[FloatArray]:
    """Arrival times (seconds from the scenario start) in ``[t0, t1)``, in sorted chunks.

    ``hourly_rate[h]`` is the mean rate (calls per second) during scenario hour ``h``; the last
    value holds for any time past the series. Streaming in chunks keeps memory flat however long
    the scenario is.
    """
    hours = len(hourly_rate)
    if hours == 0 or t1 <= t0:
        return
    rate = np.maximum(hourly_rate, 0.0)
    cum = np.concatenate(([0.0], np.cumsum(rate * HOUR_S)))

    def big_lambda(t: float) -> float:
        h = min(int(t // HOUR_S), hours - 1)
        return float(cum[h] + rate[h] * (t - h * HOUR_S))

    u_end = big_lambda(t1)
    shape = 1.0 / (cv * cv)
    u = big_lambda(t0) + float(rng.gamma(shape, 1.0 / shape)) * float(rng.random())
    while u < u_end:
        gaps = rng.gamma(shape, 1.0 / shape, batch)
        us = u + np.cumsum(gaps)
        us = np.concatenate(([u], us[:-1]))
        u = float(us[-1] + gaps[-1])
        us = us[us < u_end]
        if us.size == 0:
            return
        idx = np.searchsorted(cum, us, side="right") - 1
        idx = np.minimum(idx, hours - 1)
        times = idx * HOUR_S + (us - cum[idx]) / rate[idx]
        yield times
