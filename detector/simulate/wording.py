"""Campaign wording composed from parts, the evasions applied to it, and the prompt sources using them.

A fixed list of wrappers teaches a detector the list. Here a campaign composes its own few
wrappers from a split's parts (persona, opening, framing, format demand, closing) and its own
casing and punctuation habits, so two campaigns rarely share a wrapper and the unseen split
shares no part with tuning. Evasions are what a campaign does once it knows it is watched:
invisible characters, look-alike letters, case and whitespace games, another language, the
instruction moved to an earlier turn, or a prompt padded past a scanner's window.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from detector.simulate.behaviours import PromptSource
from detector.simulate.scenario import Evasion
from detector.simulate.splits import Split, WrapperParts
from detector.simulate.text import vary, wrap

EVASIONS: tuple[Evasion, ...] = (
    "zero_width",
    "homoglyph",
    "case_whitespace",
    "translation",
    "split_turns",
    "padding",
)
MAX_PROMPT_BYTES = 600_000
"""Padded prompts stay far enough under the contract's 1 MiB message limit for the other fields."""


def _casing(rng: random.Random, text: str, habit: int) -> str:
    """A campaign's casing and punctuation habit (0 = as written)."""
    if habit == 1:
        return text.lower()
    if habit == 2:
        return text.rstrip(".!") + "!!"
    if habit == 3:
        return text.replace(". ", ".  ").replace("\n\n", "\n")
    if habit == 4:
        return text.upper() if len(text) < 80 else text
    return text


def compose_template(rng: random.Random, parts: WrapperParts) -> str:
    """One wrapper with ``{p}``: [persona] opening + framing + format + closing, in a casing habit."""
    persona = rng.choice(parts.personas) if rng.random() < 0.3 else ""
    framing = rng.choice(parts.framings)
    habit = rng.choice((0, 0, 0, 1, 2, 3, 4))
    head, _, tail = framing.partition("{p}")
    head = _casing(rng, f"{persona}{rng.choice(parts.openings)}{head}", habit)
    tail = _casing(rng, f"{tail}{rng.choice(parts.formats)}{rng.choice(parts.closings)}", habit)
    return f"{head}{{p}}{tail}"


def compose_templates(rng: random.Random, parts: WrapperParts, count: int) -> tuple[str, ...]:
    """A campaign's playbook: a few composed wrappers, distinct where the parts allow."""
    out: list[str] = []
    for _ in range(count * 4):
        template = compose_template(rng, parts)
        if template not in out:
            out.append(template)
        if len(out) == count:
            break
    return tuple(out)


def zero_width(rng: random.Random, text: str, marks: tuple[str, ...]) -> str:
    """Invisible characters inside words, so that a phrase match no longer matches."""
    out: list[str] = []
    for ch in text:
        out.append(ch)
        if ch.isalpha() and rng.random() < 0.3:
            out.append(rng.choice(marks))
    return "".join(out)


def homoglyph(rng: random.Random, text: str, table: tuple[tuple[str, str], ...]) -> str:
    """Latin letters swapped for Cyrillic look-alikes, about half of those that have one."""
    mapping = dict(table)
    return "".join(mapping[ch] if ch in mapping and rng.random() < 0.5 else ch for ch in text)


def case_whitespace(rng: random.Random, text: str) -> str:
    """Random case flips, doubled spaces, tabs and line breaks between words."""
    chars = [ch.upper() if ch.isalpha() and rng.random() < 0.35 else ch for ch in text]
    words = "".join(chars).split(" ")
    seps = ("  ", "\t", " \n", "   ", " ")
    return "".join(w + (rng.choice(seps) if i < len(words) - 1 else "") for i, w in enumerate(words))


def pad(rng: random.Random, text: str, filler: tuple[str, ...], target_bytes: int) -> str:
    """A real prompt buried in pasted documents until it is ``target_bytes`` long (UTF-8)."""
    target = min(target_bytes, MAX_PROMPT_BYTES)
    pieces = [text]
    size = len(text.encode())
    while size < target:
        chunk = rng.choice(filler)
        pieces.append(chunk)
        size += len(chunk.encode()) + 2
    padded = "\n\n".join(pieces[1:])
    head = padded.encode()[: max(0, target - len(text.encode()) - 2)].decode("utf-8", "ignore")
    return f"{head}\n\n{text}" if rng.random() < 0.5 else f"{text}\n\n{head}"


_DIGITS = re.compile(r"\d+")


def unseen_variant(rng: random.Random, text: str, number: int) -> str:
    """A stand-in for a dataset's next, unseen item, made from one we have: its numbers drawn
    anew (as an augmented maths or data item), else a dataset-style item number before it."""
    if _DIGITS.search(text):
        return _DIGITS.sub(lambda m: str(rng.randint(2, 10 ** len(m.group()) + 8)), text)
    return f"Q{number}: {text}"


@dataclass(slots=True)
class CrawlSource:
    """A dataset walked in order, each item in one of the campaign's wrappers, then evaded.

    Mutable on purpose: the cursor is the campaign's progress through its slice of the dataset,
    and one instance belongs to one segment generator.
    """

    texts: tuple[str, ...]
    templates: tuple[str, ...]
    order: tuple[int, ...]
    split: Split
    evasion: Evasion | None = None
    edit: bool = False
    filler: tuple[str, ...] = ()
    pad_bytes: tuple[int, int] = (70_000, 160_000)
    cursor: int = 0
    languages: tuple[str, ...] = field(default=())
    """Language of each text (translation: the wrapper in the item's language)."""
    renew: bool = True
    """Past the first pass, items are edited: a crawl's real dataset is far larger than our
    sample and never sends an item twice. False for a benchmark that is re-run as it is."""

    def next(self, rng: random.Random) -> str:
        """The next unvisited item, wrapped and (if the campaign evades) disguised."""
        index = self.order[self.cursor % len(self.order)]
        later_pass = self.cursor >= len(self.order)
        self.cursor += 1
        text = self.texts[index]
        if self.renew and later_pass:
            text = unseen_variant(rng, text, self.cursor)
        if self.edit:
            text = vary(rng, text)
        evasion = self.evasion
        ranges = self.split.ranges
        if evasion == "split_turns":
            return text  # the instruction went in an earlier turn; this turn is the bare item
        if evasion == "translation" and self.languages:
            language = self.languages[index]
            local = [f for lang, f in self.split.wrappers.translated if lang == language]
            template = rng.choice(local) if local else self.templates[0]
            return wrap(template, text)
        wrapped = wrap(self.templates[int(len(self.templates) * rng.random())], text)
        if evasion == "zero_width":
            return zero_width(rng, wrapped, ranges.zero_width)
        if evasion == "homoglyph":
            return homoglyph(rng, wrapped, ranges.homoglyphs)
        if evasion == "case_whitespace":
            return case_whitespace(rng, wrapped)
        if evasion == "padding" and self.filler:
            return pad(rng, wrapped, self.filler, rng.randint(*self.pad_bytes))
        return wrapped


@dataclass(frozen=True, slots=True)
class MixedSource:
    """An account's own traffic with a share of calls from another source (a query set mixed in)."""

    primary: PromptSource
    secondary: PromptSource
    share: float
    """Share of calls drawn from ``secondary``."""

    def next(self, rng: random.Random) -> str:
        """From the secondary source with probability ``share``, else the primary one."""
        return (self.secondary if rng.random() < self.share else self.primary).next(rng)


@dataclass(frozen=True, slots=True)
class RandomWordSource:
    """Queries of a few random words, the classic "random query" extraction set."""

    vocabulary: tuple[str, ...]
    lengths: tuple[int, int] = (3, 12)

    def next(self, rng: random.Random) -> str:
        """A bag of random vocabulary words."""
        return " ".join(rng.choice(self.vocabulary) for _ in range(rng.randint(*self.lengths)))
