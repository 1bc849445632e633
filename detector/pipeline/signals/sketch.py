"""An account's prompt distribution as a small sketch, and the two-sample statistics it gives.

Each prompt becomes a unit vector of ``DIMENSIONS`` numbers: its content words (a bounded slice,
stop words dropped) feature-hashed with random signs. Many texts map to one vector and the
words' order and most of their identity are lost, so a sketch cannot be turned back into text;
only the hashes' counts survive, in 16 signed buckets. Inner products of two sketches estimate
how much vocabulary two prompts share.

Per account, three vectors and four numbers are kept (``SKETCH_SIZE`` float32s, ~270 bytes, only
for accounts that send text): a recent mean (about the last 64 prompts), a slow mean (about the
last 512: the account's own past) and the previous sketch. They give three statistics whose
value under the null is known without any tuning, because each compares two things that have
the same expectation when the account's prompts are independent draws from one distribution:

* **focus** — the mean of <s_t, recent mean before t>: an unbiased estimate of the mean
  similarity of two prompts of the account (E<s, s'> = |mu|^2). A person works on a topic (one
  codes, one studies chemistry): high focus. A campaign sampling a task space broadly: low.
* **locality** — the mean of <s_t, s_{t-1}> minus focus. When prompts are independent draws
  (a dataset being crawled; many unrelated users behind one key), the previous prompt is no
  more like this one than any earlier prompt, so locality is 0 in expectation *whatever the
  topic*; a conversation or an iterating person makes it positive. ``locality_z`` divides it
  by its standard error.
* **own shift** — |recent mean - slow mean|^2 against its expectation under "nothing changed",
  (1 - focus) * (a/(2-a) + b/(2-b) - 2ab/(a+b-ab)) for the two means' rates a and b: a router
  whose traffic gains a distiller, or a taken-over account, moves its recent mean away from its
  own past beyond what sampling explains.

Cost is bounded: ~30 words of the head of a prompt are hashed (a few microseconds), and once an
account has ``STABLE_AFTER`` sketched prompts only a consecutive pair in every ``SAMPLE_EVERY``
prompts is sketched (the pair keeps the locality statistic about neighbours).
"""

from __future__ import annotations

import math
import re
from array import array
from operator import mul
from zlib import crc32

DIMENSIONS = 16
RECENT_PROMPTS = 64  # the recent mean's effective memory, in prompts
PAST_PROMPTS = 512  # the slow mean's
STABLE_AFTER = 32
SAMPLE_EVERY = 32
MAX_WORDS = 32
SKETCH_CHARS = 400  # of the head of the (normalised) prompt

# Layout of an account's sketch array.
_MEAN = 0
_PAST = DIMENSIONS
_PREVIOUS = 2 * DIMENSIONS
_COUNT = 3 * DIMENSIONS  # prompts sketched
_FOCUS = _COUNT + 1  # EW mean of <s_t, recent mean before t>
_LAG = _COUNT + 2  # EW mean of <s_t, s_{t-1}> - <s_t, recent mean before t>
_LAG_SQ = _COUNT + 3  # EW mean of its square
_HAS_PREVIOUS = _COUNT + 4  # 1 when _PREVIOUS holds the sketch of the prompt just before
_BARE = _COUNT + 5  # EW mean of "the prompt asks nothing": a bare item, not a request
SKETCH_SIZE = _COUNT + 6

# Bytes other than a-z and 0-9 become spaces: on lower-cased ASCII the words are then what
# ``split`` returns (a C pass, where a regex findall costs several microseconds).
_NOT_WORD = bytes.maketrans(
    bytes(b for b in range(256) if not (97 <= b <= 122 or 48 <= b <= 57)), b" " * (256 - 36)
)
_WORD = re.compile(r"\w\w+")
# The commonest English function words: they make every English prompt look alike.
_STOP = frozenset(
    b"the and for are but not you your with this that from have has had was were will would can "
    b"could should what which who whom how why when where there their them they then than its "
    b"into about over also just more most some such only other any each all our out use using "
    b"been being does did doing may might must shall very much many these those here like make "
    b"get one two let please".split()
)
_STOP_TEXT = frozenset(word.decode() for word in _STOP)


def prompt_sketch(text: str) -> tuple[float, ...] | None:
    """The unit sketch of a (normalised) prompt, or None when it holds no content word."""
    head = text[:SKETCH_CHARS].lower()
    if head.isascii():
        words = head.encode().translate(_NOT_WORD).split(None, 2 * MAX_WORDS)[: 2 * MAX_WORDS]
        codes = [crc32(word) for word in words if len(word) > 1 and word not in _STOP]
    else:
        codes = []
        for word in _WORD.findall(head):
            if word in _STOP_TEXT:
                continue
            # Scripts without spaces (Chinese, Japanese) come as one long run: their character
            # pairs stand in for words.
            if len(word) <= 6:
                codes.append(crc32(word.encode()))
            else:
                codes += [crc32(word[i : i + 2].encode()) for i in range(0, len(word) - 1, 2)]
            if len(codes) >= MAX_WORDS:
                break
    if not codes:
        return None
    # Bucket (low 4 bits) and sign (bit 5) of each word's hash.
    counts = [0] * (2 * DIMENSIONS)
    for code in codes[:MAX_WORDS]:
        counts[code & 31] += 1
    vector = [counts[k + DIMENSIONS] - counts[k] for k in range(DIMENSIONS)]
    norm = math.sqrt(sum(map(mul, vector, vector)))
    if norm == 0.0:
        return None
    return tuple([value / norm for value in vector])


# What a request to an assistant nearly always carries somewhere near its start: a question
# mark, a question or request word, the second person, or a polite or first-person ask. A
# passage, a review, a news sentence, a word list or a dataset item sent under a hidden system
# prompt carries none of them.
_REQUEST = re.compile(
    r"[?\uff1f\u00bf\u061f]"
    r"|\b(?:you|your|yours|please|pls|help me|i need|i want|i'd like|let's|tell me|show me|give me)\b"
    r"|(?:^|[.!:\n]\s*)(?:how|what|why|when|where|which|who|whom|whose|is|are|does|do|did|can|could"
    r"|would|should|will|explain|write|give|make|create|list|find|solve|translate|summari[sz]e"
    r"|describe|generate|compute|calculate|implement|rewrite|answer|classify|compare|suggest"
    r"|provide|draft|compose|design|fix|debug|convert|analy[sz]e|evaluate|identify|determine)\b"
    r"|[\u8bf7\u5417\u5462\u600e\u4ec0\u5982\u4f55\u5e2e]",
)


def is_bare_item(text: str) -> bool:
    """True when the head of a (normalised) prompt asks nothing of the model: the elicitation,
    if any, is elsewhere (a hidden system prompt), as in a dataset crawl or a query set."""
    head = text[:SKETCH_CHARS]
    return _REQUEST.search(head.lower() if head.isascii() else head.casefold()) is None


def new_sketch() -> array[float]:
    """An empty account sketch."""
    return array("f", [0.0]) * SKETCH_SIZE


def is_consistent(sketch: array[float]) -> bool:
    """The shape ``sketch_one`` relies on (a restored array is checked with this)."""
    return sketch.typecode == "f" and len(sketch) == SKETCH_SIZE


def due(sketch: array[float] | None, prompts_seen: int) -> bool:
    """Whether this prompt is sketched: all until the sketch is stable, then a consecutive pair
    (positions 0 and 1) in every ``SAMPLE_EVERY``."""
    if sketch is None or sketch[_COUNT] < STABLE_AFTER:
        return True
    return prompts_seen % SAMPLE_EVERY < 2


def sketch_one(
    sketch: array[float], vector: tuple[float, ...], follows_previous: bool, bare_item: bool
) -> None:
    """Fold one prompt's sketch in. ``follows_previous``: the last sketched prompt came right
    before this one (so the pair counts for locality)."""
    count = sketch[_COUNT] + 1.0
    sketch[_COUNT] = min(count, 1e6)
    sketch[_BARE] += (float(bare_item) - sketch[_BARE]) / min(count, RECENT_PROMPTS)
    mean = sketch[_MEAN:_PAST]
    if count > 1.0:
        rate = 1.0 / min(count - 1.0, RECENT_PROMPTS)
        cross = sum(map(mul, vector, mean))
        sketch[_FOCUS] += rate * (cross - sketch[_FOCUS])
        if follows_previous and sketch[_HAS_PREVIOUS]:
            lag = sum(map(mul, vector, sketch[_PREVIOUS:_COUNT])) - cross
            sketch[_LAG] += rate * (lag - sketch[_LAG])
            sketch[_LAG_SQ] += rate * (lag * lag - sketch[_LAG_SQ])
    recent_rate = 1.0 / min(count, RECENT_PROMPTS)
    past_rate = 1.0 / min(count, PAST_PROMPTS)
    past = sketch[_PAST:_PREVIOUS]
    sketch[_MEAN:_PAST] = array("f", [m + recent_rate * (v - m) for m, v in zip(mean, vector, strict=True)])
    sketch[_PAST:_PREVIOUS] = array("f", [p + past_rate * (v - p) for p, v in zip(past, vector, strict=True)])
    sketch[_PREVIOUS:_COUNT] = array("f", vector)
    sketch[_HAS_PREVIOUS] = 1.0


def observe_one(
    sketch: array[float] | None, text: str, position: int, bare_item: bool | None = None
) -> array[float] | None:
    """The account's sketch after its prompt number ``position`` (a new one on its first
    sketched prompt); ``text`` is the prompt as ``normalize_prompt`` gives it, read in memory,
    and only its sketch is kept."""
    if not due(sketch, position):
        return sketch
    vector = prompt_sketch(text)
    if vector is None:
        return sketch
    if sketch is None:
        sketch = new_sketch()
    follows = sketch[_COUNT] < STABLE_AFTER or position % SAMPLE_EVERY == 1
    sketch_one(sketch, vector, follows, is_bare_item(text) if bare_item is None else bare_item)
    return sketch


def statistics(sketch: array[float] | None) -> dict[str, float]:
    """The account's sketch statistics as features (zeros when it has no sketch yet).

    ``sketched_prompts`` says how much each rests on; the scoring asks for enough before it
    reads any of them.
    """
    if sketch is None or sketch[_COUNT] < 2:
        return dict.fromkeys(SKETCH_FEATURES, 0.0)
    count = sketch[_COUNT]
    focus = max(0.0, min(1.0, sketch[_FOCUS]))
    lag = sketch[_LAG]
    rate = 1.0 / min(count - 1.0, RECENT_PROMPTS)
    variance = max(sketch[_LAG_SQ] - lag * lag, 1e-4)
    locality_z = lag / math.sqrt(variance * rate / (2.0 - rate))
    a = 1.0 / min(count, RECENT_PROMPTS)
    b = 1.0 / min(count, PAST_PROMPTS)
    expected = (1.0 - focus) * (a / (2.0 - a) + b / (2.0 - b) - 2.0 * a * b / (a + b - a * b))
    distance = sum((m - p) ** 2 for m, p in zip(sketch[_MEAN:_PAST], sketch[_PAST:_PREVIOUS], strict=True))
    return {
        "sketched_prompts": count,
        "prompt_focus": focus,
        "prompt_locality_z": max(-10.0, min(10.0, locality_z)),
        "own_content_shift": distance / expected if expected > 1e-9 else 0.0,
        "bare_item_share": sketch[_BARE],
    }


SKETCH_FEATURES: tuple[str, ...] = (
    "sketched_prompts",
    "prompt_focus",
    "prompt_locality_z",
    "own_content_shift",
    "bare_item_share",
)
