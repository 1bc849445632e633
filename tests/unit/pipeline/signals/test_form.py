"""The prompt-form test: what a prompt's form says, a null calibrated on ordinary accounts, and
a query set (pure or mixed in) told from a person's requests."""

from __future__ import annotations

import random
from datetime import timedelta

from detector.pipeline.learners import FormReference
from detector.pipeline.signals import form
from detector.pipeline.signals.normalize import normalize_prompt
from detector.pipeline.snapshot import decode_account, encode_account
from detector.pipeline.step import Detector
from detector.settings import Settings
from tests.factories import ORGANIC_PROMPTS, START, encode, event

WORDS = [
    "river",
    "lantern",
    "quantum",
    "seven",
    "copper",
    "meadow",
    "violin",
    "orbit",
    "saddle",
    "thunder",
    "pebble",
    "marble",
]
PASSAGES = [
    "The Danube flows through ten countries, more than any other river in the world.",
    "Copper was among the first metals worked by people, some ten thousand years ago.",
    "The violin family took its modern form in northern Italy in the sixteenth century.",
    "Thunder is the sound made by the rapid expansion of air heated by lightning.",
]


def account_form(prompts: list[str]) -> tuple[float, ...]:
    state = None
    for prompt in prompts:
        state = form.observe_one(state, normalize_prompt(prompt))
    means = form.means(state)
    assert means is not None
    return means


def person(rng: random.Random, n: int = 100) -> list[str]:
    return [rng.choice(ORGANIC_PROMPTS) + f" ({rng.randint(0, 999)})" for _ in range(n)]


def word_lists(rng: random.Random, n: int = 100) -> list[str]:
    return [" ".join(rng.sample(WORDS, 6)) for _ in range(n)]


def reference(rng: random.Random, accounts: int = 400) -> FormReference:
    ref = FormReference()
    for _ in range(accounts):
        ref.learn_one(account_form(person(rng, rng.randint(20, 120))))
    return ref


def test_a_prompt_form_keeps_proportions_not_words() -> None:
    """Six numbers in [0, 1]; a word list and a passage differ from a request where a query
    set and a person differ (bare, function words, question mark)."""
    words = form.prompt_form("river lantern quantum seven copper meadow")
    passage = form.prompt_form(PASSAGES[0])
    request = form.prompt_form("Can you explain how a binary search works in Python?")
    assert words is not None and passage is not None and request is not None
    assert len(request) == form.FORM_SIZE and all(0.0 <= v <= 1.0 for v in (*words, *passage, *request))
    named = dict(zip(form.FORM_FEATURES, zip(words, passage, request, strict=True), strict=True))
    assert named["bare"] == (1.0, 1.0, 0.0)
    assert named["function_words"][0] < named["function_words"][2]
    assert named["question_mark"] == (0.0, 0.0, 1.0)
    assert form.prompt_form("   ") is None


def test_ordinary_accounts_rank_uniformly_against_their_own_reference() -> None:
    """The null is the population: new accounts drawn like the reference's exceed its 99th
    percentile about 1% of the time (here at most 4 in 200), whatever the raw distances."""
    rng = random.Random(3)
    ref = reference(rng)
    ranks = [ref.score_one(account_form(person(rng, rng.randint(20, 120))), 0.0)[0] for _ in range(200)]
    assert sum(rank > 0.99 for rank in ranks) <= 4
    assert 0.3 < sorted(ranks)[100] < 0.7


def test_a_query_set_ranks_beyond_every_ordinary_account_and_a_half_mix_too() -> None:
    """Word lists and bare passages, pure or as half of an account's prompts, are written unlike
    any ordinary account; a person's requests are not."""
    rng = random.Random(5)
    ref = reference(rng)
    pure = ref.score_one(account_form(word_lists(rng)), 0.99)
    mixed = account_form([p for pair in zip(person(rng, 50), word_lists(rng, 50), strict=True) for p in pair])
    passages = account_form([rng.choice(PASSAGES) for _ in range(100)])
    assert (
        pure[0] > 0.999 and ref.score_one(mixed, 0.99)[0] > 0.99 and ref.score_one(passages, 0.99)[0] > 0.99
    )
    assert ref.score_one(account_form(person(rng)), 0.99)[0] < 0.99
    z = dict(zip(form.FORM_FEATURES, pure[2], strict=True))
    assert z["bare"] > 3 and z["function_words"] < -3


def test_the_distance_is_one_sided_toward_data() -> None:
    """Prompts *more* request-like than ordinary ones (all questions, all ending in a mark) are
    not evidence; length describes but does not count."""
    unit = form.distance_weights((0.0,) * form.FORM_SIZE, (1.0,) * form.FORM_SIZE)
    assert form.distance((-5.0, 5.0, 0.0, 5.0, -5.0, -5.0), unit) == 0.0
    assert form.distance((0.0, 0.0, 9.0, 0.0, 0.0, 0.0), unit) == 0.0
    assert form.distance((2.0, -2.0, 0.0, 0.0, 0.0, 0.0), unit) == 8.0


def test_reading_is_bounded_and_the_form_survives_the_changelog() -> None:
    """The worker reads a prompt's form on the topic sketch's cadence (every prompt, then one in
    every 32), and an account's form round-trips through its snapshot (float32)."""
    detector = Detector(Settings(), clock=lambda: START)
    rng = random.Random(1)
    for i, prompt in enumerate(word_lists(rng, 1000)):
        detector.process_one(encode(event("acct_q", START + timedelta(seconds=30 * i), prompt=prompt)))
    (state,) = [s for part in detector.partitions.values() for s in part.accounts if s.account_id == "acct_q"]
    assert state.form is not None and len(state.form) == form.SIZE
    assert 32 <= form.prompts_read(state.form) <= 32 + 1000 // 32 + 1
    again = decode_account("acct_q", encode_account(state))
    assert again.form == state.form


def test_a_request_in_another_european_language_is_a_sentence_not_a_word_list() -> None:
    """Function words are counted in the languages most often sent, so a Spanish or German
    request reads like an English one, and a word list like neither."""
    shares = {
        text: (form.prompt_form(text) or (0.0, 0.0))[1]
        for text in (
            "Explica por favor la diferencia entre una lista y una tupla en Python.",
            "Kannst du mir bitte erklären, wie die Photosynthese in den Blättern funktioniert?",
            "Explain the difference between a list and a tuple in Python, please.",
            "lantern quantum meadow violin orbit saddle",
        )
    }
    spanish, german, english, words = shares.values()
    assert min(spanish, german) > 0.25 and english > 0.25 and words == 0.0


def test_ranks_below_the_floor_are_given_as_zero_and_agree_above_it() -> None:
    """``from_rank`` only saves the histogram walk: above it the rank is the full one."""
    rng = random.Random(7)
    ref = reference(rng)
    for means in (account_form(person(rng)), account_form(word_lists(rng))):
        full = ref.score_one(means, 0.0)[0]
        floored = ref.score_one(means, 0.99)[0]
        assert floored in (full, 0.0)
        if full >= 0.99:
            assert floored == full


def test_an_account_seen_once_keeps_no_form() -> None:
    """Most accounts call once: they carry no form (idle accounts stay within their budget);
    the second call starts it."""
    detector = Detector(Settings(), clock=lambda: START)
    detector.process_one(encode(event("acct_once", START, prompt="river lantern quantum")))
    detector.process_one(encode(event("acct_twice", START, prompt="river lantern quantum")))
    detector.process_one(encode(event("acct_twice", START + timedelta(seconds=5), prompt="copper meadow")))
    states = {s.account_id: s for part in detector.partitions.values() for s in part.accounts}
    assert states["acct_once"].form is None
    assert form.prompts_read(states["acct_twice"].form) == 1.0
