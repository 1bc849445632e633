"""How an account's prompts are written, tested against how the population's are.

A classic extraction query set is a *sample of a task space*, not a person's requests: passages,
reviews or news sentences sent bare, random word lists, short factoid questions one after
another. Their topics are as varied as anyone's, so a topic sketch does not tell them apart; their
*form* does. Each prompt becomes ``FORM_SIZE`` numbers read from its bounded head (no words are
kept, only proportions and a length, so nothing is reversible to text):

* ``bare`` — it asks nothing (``sketch.is_bare_item``);
* ``function_words`` — share of its words that are English function words (natural sentences:
  ~40-50%; word lists: near 0);
* ``length`` — log of its word count, scaled to [0, 1] over the words read;
* ``question_mark`` — it carries a question mark;
* ``lowercase_start`` — it begins with a lower-case letter (a typed query, a fragment);
* ``no_end_mark`` — it ends without sentence punctuation.

An account keeps the running mean of these (about its last ``RECENT_PROMPTS`` prompts). The
two-sample statistic is a one-sided squared standardised distance of that mean from the
population's mean of account means, ``sum_k max(0, d_k (m_k - mu_k) / sd_k)^2``, over the
features with a direction ``d_k`` in ``TOWARDS_DATA``: toward prompts that are data rather than
requests (bare, few function words, no question mark, lower-case starts, no end mark). Length
says what kind of data, not whether it is data (an eval lab's long questions are as unusual as a
crawl's passages, and requests all the same), so it is kept but not counted. Its null is **calibrated on the
population itself** (``learners.FormReference``): ordinary accounts with at least
``MIN_PROMPTS`` sketched prompts teach the reference their own distance, and an account is
judged by its rank among them. Ordinary accounts are topic-focused and differ in style (one
pastes code, one types lower-case queries), so the null carries that spread, and a rank of
0.999 means "written less like the population than 999 in 1,000 ordinary accounts", whatever
the traffic. Alone it says "unusual", so scoring counts it only for single-turn calls.

The topic sketch's cadence bounds the cost (the caller reads a prompt's form only when the
sketch reads it, and ``due`` says so): every prompt until ``sketch.STABLE_AFTER``, then one in
every ``sketch.SAMPLE_EVERY``.
"""

from __future__ import annotations

import math
from array import array

from detector.pipeline.signals.sketch import SAMPLE_EVERY, SKETCH_CHARS, STABLE_AFTER, is_bare_item

FORM_FEATURES: tuple[str, ...] = (
    "bare",
    "function_words",
    "length",
    "question_mark",
    "lowercase_start",
    "no_end_mark",
)
FORM_SIZE = len(FORM_FEATURES)
# +1 / -1: the direction in which a feature moves when prompts are data rather than requests;
# 0: not counted in the distance.
TOWARDS_DATA: tuple[int, ...] = (1, -1, 0, -1, 1, 1)
# Scoring reads an account's standardised deviation per feature under these names.
DEVIATION_FEATURES: tuple[str, ...] = tuple(f"form_z_{name}" for name in FORM_FEATURES)
RECENT_PROMPTS = 64  # the running mean's effective memory, in prompts
MIN_PROMPTS = 20  # an account's mean is read (and teaches the reference) from this many on
_MAX_WORDS = 64
_COUNT = FORM_SIZE  # layout: the means, then the count of prompts folded in
SIZE = FORM_SIZE + 1

# The commonest function words of English and of the European languages most often sent (a
# natural sentence is ~40-50% these): a request in Spanish or German is a sentence too, not a
# word list. Scripts without spaces read as few long "words" here; their prompts' form rests on
# the other features.
_FUNCTION_WORD_TEXT = (
    # English
    "a an the and or but if of to in on at by for with from as is are was were be been being "
    "it its this that these those there here he she they we you i me my our your his her their "
    "them not no do does did has have had will would can could should may might must shall so "
    "than then too very what which who whom whose when where why how all any each some such "
    "only own same into about over after before under again further once up down out off just "
    "also more most other "
    # Spanish, Portuguese, Italian, French
    "el la los las un una unos unas y o de del al en con por para que es son se su sus lo le "
    "les como mas pero este esta eso muy ya yo tu mi nos os um uma da do das dos na nas em e "
    "il gli di che non per sono della nel alla et ou des du au aux est sont dans pour sur avec "
    "ce cette qui ne pas je nous vous ils elle "
    # German, Dutch
    "der die das den dem des ein eine einen und oder zu im ist sind nicht mit von auf wie ich "
    "du wir sie es het een en van op voor niet dat zijn ook"
)
_FUNCTION_WORDS = frozenset(_FUNCTION_WORD_TEXT.split())
_PUNCTUATION_TO_SPACE = str.maketrans(dict.fromkeys(".,;:!?\"'()[]{}", " "))
_PUNCTUATION_BYTES = bytes.maketrans(b".,;:!?\"'()[]{}", b" " * 14)
_FUNCTION_WORD_BYTES = frozenset(word.encode() for word in _FUNCTION_WORDS if word.isascii())
_END_MARKS = frozenset(".?!:;)]}\"'\u3002\uff1f\uff01")


def prompt_form(text: str, bare_item: bool | None = None) -> tuple[float, ...] | None:
    """The form vector of one (normalised) prompt, or None when it holds no word;
    ``bare_item`` is ``sketch.is_bare_item`` of it when the caller has it.

    Every count is one C-level pass (``split``, ``translate``, ``map``): this runs on each
    sketched prompt, and a Python loop over its characters would cost more than the sketch.
    ASCII text, nearly all of it, is counted as bytes (a 256-entry table instead of a dict)."""
    head = text[:SKETCH_CHARS].strip()
    if not head:
        return None
    if head.isascii():
        words: list[bytes] | list[str] = (
            head.encode().lower().translate(_PUNCTUATION_BYTES).split(None, _MAX_WORDS)[:_MAX_WORDS]
        )
        function = sum(map(_FUNCTION_WORD_BYTES.__contains__, words))
    else:
        words = head.lower().translate(_PUNCTUATION_TO_SPACE).split(None, _MAX_WORDS)[:_MAX_WORDS]
        function = sum(map(_FUNCTION_WORDS.__contains__, words))
    count = len(words)
    if not count:
        return None
    first = head[0]
    return (
        float(is_bare_item(head) if bare_item is None else bare_item),
        function / count,
        math.log1p(count) / math.log1p(_MAX_WORDS),
        float("?" in head or "\uff1f" in head),
        float(first.isalpha() and first.islower()),
        float(head[-1] not in _END_MARKS),
    )


def new_form() -> array[float]:
    """An empty account form."""
    return array("f", [0.0]) * SIZE


def is_consistent(form: array[float]) -> bool:
    """The shape ``observe_one`` relies on (a restored array is checked with this)."""
    return form.typecode == "f" and len(form) == SIZE and form[_COUNT] >= 0.0


def observe_one(form: array[float] | None, text: str, bare_item: bool | None = None) -> array[float] | None:
    """The account's form after one more prompt read (a new one on its first); only the running
    means are kept. Called on the prompts the topic sketch reads (``sketch.due``), so that the
    two share one bounded cadence."""
    vector = prompt_form(text, bare_item)
    if vector is None:
        return form
    if form is None:
        form = new_form()
    count = form[_COUNT] + 1.0
    rate = 1.0 / min(count, RECENT_PROMPTS)
    for k, value in enumerate(vector):  # six in-place updates: cheaper than a new array
        form[k] += rate * (value - form[k])
    form[_COUNT] = min(count, 1e6)
    return form


def due(form: array[float] | None, prompts_seen: int) -> bool:
    """Whether to read this prompt's form, asked only for prompts the topic sketch reads: from
    the account's second call (an account seen once, most of them, keeps no form: idle accounts
    stay small), every one until ``sketch.STABLE_AFTER``, then one in every
    ``sketch.SAMPLE_EVERY`` (the sketch reads a consecutive pair for its locality statistic; a
    mean needs only one)."""
    if form is None:
        return prompts_seen >= 2
    return form[_COUNT] < STABLE_AFTER or prompts_seen % SAMPLE_EVERY == 0


def means(form: array[float] | None) -> tuple[float, ...] | None:
    """The account's mean form, once it rests on ``MIN_PROMPTS`` prompts (else None)."""
    if form is None or form[_COUNT] < MIN_PROMPTS:
        return None
    return tuple(form[:FORM_SIZE])


def prompts_read(form: array[float] | None) -> float:
    return 0.0 if form is None else float(form[_COUNT])


def deviations(
    account: tuple[float, ...], centre: tuple[float, ...], spread: tuple[float, ...]
) -> tuple[float, ...]:
    """Standardised deviation of an account's mean form from the population's, per feature."""
    return tuple((m - mu) / sd for m, mu, sd in zip(account, centre, spread, strict=True))


DistanceWeights = tuple[tuple[int, float, float], ...]


def distance_weights(centre: tuple[float, ...], spread: tuple[float, ...]) -> DistanceWeights:
    """(feature, centre, direction / spread) of each counted feature: what ``distance`` reads,
    made once per reference update rather than at every scoring."""
    return tuple(
        (k, mu, direction / sd)
        for k, (mu, sd, direction) in enumerate(zip(centre, spread, TOWARDS_DATA, strict=True))
        if direction
    )


def distance(means: tuple[float, ...], weights: DistanceWeights) -> float:
    """The one-sided squared standardised distance toward data-like prompts of an account's
    mean form (one pass: it runs at every scoring of a text account)."""
    total = 0.0
    for k, mu, signed_inverse in weights:
        z = (means[k] - mu) * signed_inverse
        if z > 0.0:
            total += z * z
    return total
