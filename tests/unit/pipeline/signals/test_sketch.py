"""The prompt sketch: irreversible, bounded, and its statistics have the nulls it claims."""

from __future__ import annotations

import random

import pytest

from detector.pipeline.signals.normalize import normalize_prompt
from detector.pipeline.signals.sketch import (
    DIMENSIONS,
    SAMPLE_EVERY,
    SKETCH_SIZE,
    STABLE_AFTER,
    is_bare_item,
    new_sketch,
    observe_one,
    prompt_sketch,
    statistics,
)
from detector.pipeline.snapshot import decode_account, encode_account
from detector.pipeline.state import AccountState
from tests.factories import ORGANIC_PROMPTS

TOPICS = [
    "python list sort function merge algorithm complexity",
    "chemistry molecule bond electron orbital reaction",
    "medieval history castle king battle siege",
    "guitar chord melody rhythm practice scales",
    "tax return deduction income filing receipt",
    "marathon training pace recovery shoes mileage",
]


def run(prompts: list[str]) -> dict[str, float]:
    sketch = None
    for position, prompt in enumerate(prompts, start=1):
        sketch = observe_one(sketch, normalize_prompt(prompt), position)
    return statistics(sketch)


def test_a_sketch_is_a_unit_vector_of_few_numbers() -> None:
    """Many words become 16 signed counts, normalised: order and most identity are gone."""
    vector = prompt_sketch("Explain how a merge sort splits a list and merges the halves back")
    assert vector is not None and len(vector) == DIMENSIONS
    assert abs(sum(v * v for v in vector) - 1.0) < 1e-9
    reordered = prompt_sketch("back halves the merges and list a splits sort merge a how Explain")
    assert reordered == vector
    assert prompt_sketch("the and for, with this") is None  # stop words only: nothing to sketch


VOCABULARY = [f"w{i:03d}" for i in range(300)]
TOPIC_WORDS = [random.Random(topic).sample(VOCABULARY, 30) for topic in range(8)]


def topical(rng: random.Random, topic: int) -> str:
    """A prompt of six words of one topic and four of anything."""
    return " ".join(rng.sample(TOPIC_WORDS[topic], 6) + rng.sample(VOCABULARY, 4))


@pytest.mark.parametrize("seed", range(4))
def test_independent_draws_show_no_locality_whatever_the_focus(seed: int) -> None:
    """Prompts drawn independently, from many topics or from one: locality is noise around 0,
    while focus tells the two apart."""
    rng = random.Random(seed)
    broad = run([topical(rng, rng.randrange(8)) for _ in range(1500)])
    focused = run([topical(rng, 0) for _ in range(1500)])
    assert abs(broad["prompt_locality_z"]) < 3.0
    assert abs(focused["prompt_locality_z"]) < 3.0
    assert focused["prompt_focus"] > 2.0 * broad["prompt_focus"]


@pytest.mark.parametrize("seed", range(4))
def test_a_conversation_shows_locality(seed: int) -> None:
    """A person who stays on a topic for a few prompts and moves on: locality above the null."""
    rng = random.Random(seed)
    prompts: list[str] = []
    while len(prompts) < 1500:
        topic = rng.randrange(8)
        prompts += [topical(rng, topic) for _ in range(rng.randint(3, 6))]
    assert run(prompts)["prompt_locality_z"] > 1.5


@pytest.mark.parametrize("seed", range(4))
def test_a_change_of_content_shows_against_the_own_past(seed: int) -> None:
    """An account that asked about one topic for long and now asks about another shifts well
    beyond what sampling gives (the statistic is a ratio to its expectation under no change)."""
    rng = random.Random(seed)
    steady = [topical(rng, 1) for _ in range(3000)]
    changed = steady[:1500] + [topical(rng, 3) for _ in range(1500)]
    assert run(steady)["own_content_shift"] < 3.0
    assert run(changed)["own_content_shift"] > 5.0


def test_bare_items_are_told_from_requests() -> None:
    """Passages, reviews and word lists ask nothing; questions and instructions do."""
    assert is_bare_item("The Eiffel Tower is a wrought-iron lattice tower in Paris, opened in 1889.")
    assert is_bare_item("apple river quantum seven blue lantern")
    assert not is_bare_item("who wrote the declaration of independence")
    assert not is_bare_item("Write a poem about the sea")
    assert not is_bare_item("Natalia sold clips to 48 friends. How many did she sell?")
    assert sum(is_bare_item(p) for p in ORGANIC_PROMPTS) <= len(ORGANIC_PROMPTS) // 3


def test_sampling_bounds_the_work_once_the_sketch_is_stable() -> None:
    """After the first prompts only a consecutive pair in every SAMPLE_EVERY is sketched."""
    sketch = None
    for position in range(1, 1001):
        sketch = observe_one(sketch, f"{TOPICS[position % 6]} item {position}", position)
    assert sketch is not None and len(sketch) == SKETCH_SIZE
    low = STABLE_AFTER + 2 * (1000 - STABLE_AFTER) // SAMPLE_EVERY - 4
    assert low <= statistics(sketch)["sketched_prompts"] <= STABLE_AFTER + 2 * 1000 // SAMPLE_EVERY


def test_the_sketch_survives_the_changelog() -> None:
    """An account's sketch round-trips through its snapshot unchanged (float32)."""
    state = AccountState("acct", None, 1.7e9)
    for position in range(1, 50):
        state.sketch = observe_one(state.sketch, f"{TOPICS[position % 6]} {position}", position)
    again = decode_account("acct", encode_account(state))
    assert again.sketch == state.sketch
    assert new_sketch().typecode == "f"
