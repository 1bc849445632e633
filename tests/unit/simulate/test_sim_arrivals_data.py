"""Arrival processes and the committed reference data of the simulator."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from detector.simulate.arrivals import renewal_times
from detector.simulate.reference import load_reference


@pytest.mark.parametrize("cv", [0.3, 1.0, 2.0])
def test_renewal_process_keeps_rate_and_burstiness(cv: float) -> None:
    """Gamma renewal arrivals reproduce the asked mean rate and inter-arrival CV."""
    rng = np.random.default_rng(1)
    rate = np.full(48, 0.5)  # 0.5 calls/s for 48 hours
    times = np.concatenate(list(renewal_times(rng, rate, cv=cv, t0=0.0, t1=48 * 3600.0)))
    assert abs(times.size / (48 * 3600 * 0.5) - 1) < 0.05
    gaps = np.diff(times)
    assert abs(gaps.std() / gaps.mean() - cv) < 0.1 * cv
    assert np.all(gaps >= 0)


def test_renewal_process_follows_the_hourly_shape() -> None:
    """Idle hours get no calls and busy hours get calls in proportion to their rate."""
    rng = np.random.default_rng(2)
    rate = np.array([0.0, 1.0, 0.0, 3.0])
    times = np.concatenate(list(renewal_times(rng, rate, cv=1.0, t0=0.0, t1=4 * 3600.0)))
    per_hour = np.bincount((times // 3600).astype(int), minlength=4)
    assert per_hour[0] == 0
    assert per_hour[2] == 0
    assert 2.7 < per_hour[3] / per_hour[1] < 3.3


def test_renewal_process_respects_the_window() -> None:
    """Arrivals stay inside [t0, t1)."""
    rng = np.random.default_rng(3)
    times = np.concatenate(list(renewal_times(rng, np.full(5, 2.0), cv=1.5, t0=1000.0, t1=9000.0)))
    assert times.min() >= 1000.0
    assert times.max() < 9000.0


def test_reference_data_is_small_and_complete() -> None:
    """The committed data stays under 1.5 MB and holds every client group and prompt pool."""
    folder = resources.files("detector.simulate").joinpath("data")
    size = sum(f.stat().st_size for f in folder.iterdir())  # type: ignore[attr-defined]
    assert size < 1_500_000
    ref = load_reference()
    categories = {c.category for c in ref.clients}
    assert categories == {"m-large", "m-mid", "m-small", "deepseek-r1"}
    assert all(c.reason_ratio_q is not None for c in ref.clients if c.category == "deepseek-r1")
    assert len(ref.organic.texts) == 752
    assert 1000 <= len(ref.instruction.texts) <= 2000
    assert max(len(t) for t in ref.instruction.texts) <= 600
    assert 0.2 < ref.multi_turn_share < 0.5


def test_attribution_names_every_source() -> None:
    """ATTRIBUTION.md names each source repository with its licence."""
    text = resources.files("detector.simulate").joinpath("data", "ATTRIBUTION.md").read_text()
    for source in (
        "alibaba/ServeGen @ f891d118",
        "Azure/AzurePublicDataset @ b469a113",
        "kvcache-ai/Mooncake @ 3b5a5941",
        "lmarena/arena-hard-auto @ 196f6b82",
        "yizhongw/self-instruct @ 0b26ccaa",
        "teknium1/GPTeacher @ 48107512",
        "openai/grade-school-math @ 3101c7d5",
    ):
        assert source in text
    for licence in ("Apache-2.0", "MIT", "CC-BY-4.0"):
        assert licence in text
