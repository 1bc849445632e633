"""Harvest yield: a benchmark re-run at temperature 0 buys nothing new; a crawl always does."""

from __future__ import annotations

import random
from array import array
from zlib import crc32

from hypothesis import given
from hypothesis import strategies as st

from detector.pipeline.signals import novelty


def _run(keys: list[int], deterministic: bool = True, memory: array[int] | None = None) -> array[int] | None:
    for key in keys:
        memory = novelty.observe_one(memory, key, deterministic)
    return memory


def test_a_crawl_of_new_items_yields_fully_and_memory_stays_bounded() -> None:
    """50,000 distinct prompts: no repeat is ever found, and at most SLOTS hashes are kept."""
    memory = _run([crc32(f"dataset item {i}".encode()) for i in range(50_000)])
    assert memory is not None
    assert novelty.harvest_yield(memory) == 1.0
    assert len(memory) <= 3 + novelty.SLOTS
    assert novelty.is_consistent(memory)


def test_a_benchmark_rerun_the_next_day_is_recognised_however_large_the_gap() -> None:
    """A 1,000-item benchmark at temperature 0, run once and then again: on the second run most
    sampled calls are repeats, so the yield falls well below one half."""
    items = [crc32(f"benchmark question {i}".encode()) for i in range(1_000)]
    rng = random.Random(3)
    first = items[:]
    rng.shuffle(first)
    memory = _run(first)
    assert novelty.harvest_yield(memory) == 1.0
    second = items[:]
    rng.shuffle(second)
    memory = _run(second, memory=memory)
    assert novelty.harvest_yield(memory) < 0.4


def test_repeats_at_a_sampling_temperature_still_yield() -> None:
    """The same prompts again at temperature 0.7 are new samples (best-of-n data): no discount."""
    items = [crc32(f"prompt {i}".encode()) for i in range(300)]
    memory = None
    for _ in range(3):
        for key in items:
            memory = novelty.observe_one(memory, key, deterministic=False)
    assert novelty.harvest_yield(memory) == 1.0


def test_too_few_sampled_prompts_say_nothing() -> None:
    """A handful of calls, even all repeats, is not read (the share needs MIN_SAMPLED)."""
    memory = _run([7, 7, 7, 7])
    assert novelty.wasted_share(memory) == 0.0


@given(st.lists(st.integers(0, 2**32 - 1), max_size=400), st.booleans())
def test_any_sequence_keeps_the_memory_consistent(keys: list[int], deterministic: bool) -> None:
    """Whatever the hashes, the memory keeps its bounds and its share stays in [0, 1]."""
    memory = _run(keys, deterministic)
    if memory is not None:
        assert novelty.is_consistent(memory)
    assert 0.0 <= novelty.harvest_yield(memory) <= 1.0
