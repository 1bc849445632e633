"""Fast, exact case-insensitive regex search over prompt text.

Python's ``re`` is slow at case-insensitive alternations of phrases: it tries every branch at
every position of the text (20-30 us for the chain-of-thought pattern on a typical prompt, which
was most of the detector's per-event time). ``FoldedPattern`` gives the same answer as
``pattern.search(text) is not None``, but cheaply:

1. **Literal prefilter.** The pattern is split into its top-level alternatives (``a|b`` matches
   somewhere iff ``a`` or ``b`` does). From each alternative's parse tree come a few sets of
   literal strings such that every match contains one literal of each set. One Aho-Corasick
   pass (``ahocorasick_rs``, Rust) finds which of all these literals occur in the case-folded
   text (~1 us for a typical prompt), and only the alternatives whose sets are all hit run
   their regex — most prompts run none.
2. **Case folding done once.** On ASCII text (nearly all prompts), an ``IGNORECASE`` match on the
   original is the same as a case-sensitive match of the same pattern on ``str.lower()`` (same
   length, same word characters), and the case-sensitive matcher can skip ahead on the branches'
   first letters. This is used only when the pattern is *fold-safe*: no upper-case or non-ASCII
   literals, no inline flags, no back-references.
3. **Non-ASCII text** keeps the original pattern on the original text. Its prefilter text is
   folded the way ``re`` folds case: besides ``str.lower()``, the only characters that match
   ASCII letters under ``IGNORECASE`` are U+0130 and U+0131 (i), U+017F (s) and U+212A (k).
4. **Leading literals.** An alternative whose every match starts with one of a few literals
   (``(?:show|give|explain) ... (?:work|steps)``) is tried with ``match`` only where one of them
   occurs, not at every position: ``re`` scans such a branch group slowly (10-400 us on a long
   prompt that holds one of the words). Folding maps each character to one character, so a
   position in the folded text is the same position in the original, for non-ASCII text too.

Anything the analysis does not understand turns the shortcut off for that pattern (the plain
search is used), so a new pattern can never make the answer wrong, only slower.
``tests/unit/pipeline/test_textscan.py`` checks the equivalence on real and generated prompts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

try:  # the regex parser is private; without it every search is simply the plain one
    from re import _parser as _sre_parser  # type: ignore[attr-defined]  # private, untyped
except ImportError:  # pragma: no cover - present in every CPython 3.11-3.13
    _sre_parser = None

import ahocorasick_rs

# Characters outside ASCII that ``re`` (IGNORECASE, Unicode) matches against ASCII letters.
_REGEX_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
_FOLD_CHARS = ("\u0130", "\u0131", "\u017f", "\u212a")


def fold(text: str) -> str:
    """Lower-case ``text`` so that an ``IGNORECASE`` match of an ASCII literal shows as a substring."""
    if text.isascii() or not any(char in text for char in _FOLD_CHARS):
        return text.lower()
    return text.translate(_REGEX_FOLD).lower()


class _UnsupportedError(Exception):
    """The parse tree holds something the analysis does not model."""


def _name(op: Any) -> str:
    return str(op)


def _best(sets: list[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The most selective literal set: the one whose shortest literal is longest."""
    if not sets:
        return None
    return max(sets, key=lambda literals: (min(map(len, literals)), -len(literals)))


def _required_literal_sets(items: Any) -> list[tuple[str, ...]]:
    """Sets of (folded) literals such that every match of ``items`` contains one of each set.

    Each run of consecutive literals is a set of one; each mandatory group, repetition or
    alternation contributes the best set of its own (for an alternation: the union of one set
    per branch, or nothing if a branch has none). An empty list means no literal is required.
    """
    sets: list[tuple[str, ...]] = []
    run: list[str] = []

    def close_run() -> None:
        if run:
            sets.append(("".join(run),))
            run.clear()

    for op, av in items:
        kind = _name(op)
        if kind == "LITERAL":
            char = chr(av)
            if not char.isascii():
                raise _UnsupportedError("non-ASCII literal")
            run.append(char.lower())
            continue
        close_run()
        found: tuple[str, ...] | None = None
        if kind == "SUBPATTERN":
            _group, add_flags, del_flags, sub = av
            if add_flags or del_flags:
                raise _UnsupportedError("inline flags")
            found = _best(_required_literal_sets(sub))
        elif kind == "BRANCH":
            union: list[str] = []
            for branch in av[1]:
                needed = _best(_required_literal_sets(branch))
                if needed is None:
                    union = []
                    break
                union.extend(needed)
            found = tuple(dict.fromkeys(union)) or None
        elif kind in {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}:
            low, _high, sub = av
            found = _best(_required_literal_sets(sub)) if low >= 1 else None
        elif kind == "ATOMIC_GROUP":
            found = _best(_required_literal_sets(av))
        if found:
            sets.append(found)
    close_run()
    return sets


def _leading_literals(items: Any) -> tuple[str, ...] | None:
    """Literals one of which every match of ``items`` starts with, or None if there are none.

    A pattern that starts with a literal (or a group of alternatives that each do) can only match
    where one of them occurs, so it is tried only there instead of at every position.
    """
    run: list[str] = []
    for op, av in items:
        if _name(op) != "LITERAL":
            break
        run.append(chr(av))
    if run:
        return ("".join(run),)
    if not len(items):
        return None
    op, av = items[0]
    kind = _name(op)
    if kind == "SUBPATTERN":
        _group, add_flags, del_flags, sub = av
        return None if add_flags or del_flags else _leading_literals(sub)
    if kind == "BRANCH":
        leading: list[str] = []
        for branch in av[1]:
            found = _leading_literals(branch)
            if found is None:
                return None
            leading.extend(found)
        return tuple(dict.fromkeys(leading))
    return None


def _matches_at_any(pattern: re.Pattern[str], text: str, folded: str, leading: tuple[str, ...]) -> bool:
    """``pattern.search(text) is not None`` for a pattern whose every match starts with one of
    ``leading``: ``match`` where one occurs in ``folded`` (overlapping ones too) is the same
    search minus the positions where it cannot match. ``folded`` must be ``text`` or ``fold(text)``
    of the same length (then a position in one is the same character in the other). ``match(text,
    pos)`` reads the text before ``pos`` for look-behinds, ``\\b`` and ``^`` as ``search`` does."""
    match = pattern.match
    find = folded.find
    for literal in leading:
        at = find(literal)
        while at >= 0:
            if match(text, at) is not None:
                return True
            at = find(literal, at + 1)
    return False


def _fold_safe(items: Any) -> bool:
    """True if the pattern means the same case-sensitively on lower-cased ASCII text."""
    for op, av in items:
        kind = _name(op)
        if kind in {"LITERAL", "NOT_LITERAL"}:
            char = chr(av)
            if not char.isascii() or char.isupper():
                return False
        elif kind == "IN":
            for member_op, member in av:
                member_kind = _name(member_op)
                if member_kind in {"LITERAL", "NOT_LITERAL"} and (
                    not chr(member).isascii() or chr(member).isupper()
                ):
                    return False
                if member_kind == "RANGE":
                    low, high = member
                    if high >= 128 or (low <= ord("Z") and high >= ord("A")):
                        return False
        elif kind == "SUBPATTERN":
            _group, add_flags, del_flags, sub = av
            if add_flags or del_flags or not _fold_safe(sub):
                return False
        elif kind == "BRANCH":
            if not all(_fold_safe(branch) for branch in av[1]):
                return False
        elif kind in {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}:
            if not _fold_safe(av[2]):
                return False
        elif kind == "ATOMIC_GROUP":
            if not _fold_safe(av):
                return False
        elif kind in {"ASSERT", "ASSERT_NOT"}:
            if not _fold_safe(av[1]):
                return False
        elif kind not in {"ANY", "AT", "CATEGORY"}:
            return False  # back-references and anything newer: stay with the plain search
    return True


def _split_alternatives(source: str) -> list[str] | None:
    """The top-level alternatives of a regex source, or None if it cannot be split safely."""
    if re.search(r"\(\?[aiLmsux-]", source):
        return None  # inline flags would not carry over to the other pieces
    pieces: list[str] = []
    depth = 0
    start = 0
    index = 0
    in_class = False
    while index < len(source):
        char = source[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            if source[index + 1 : index + 2] == "^":
                index += 1
            if source[index + 1 : index + 2] == "]":  # a leading "]" is a member, not the end
                index += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            pieces.append(source[start:index])
            start = index + 1
        index += 1
    pieces.append(source[start:])
    return pieces if depth == 0 and not in_class else None


def _without_superstrings(literals: tuple[str, ...]) -> tuple[str, ...]:
    """Drop literals that contain another one: finding the shorter one is already required."""
    return tuple(
        literal
        for literal in literals
        if not any(other != literal and other in literal for other in literals)
    )


# Literal sets checked per alternative (best first), and the shortest literal worth looking for:
# a one- or two-letter literal is in nearly every prompt and would only slow the scan down.
_MAX_SETS = 3
_MIN_LITERAL = 3


def _useful(leading: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Leading literals worth looking for: a short one (a newline, a letter) occurs so often that
    one ``match`` per occurrence is slower than ``re``'s own scan for it."""
    return leading if leading and min(map(len, leading)) >= _MIN_LITERAL else None


class _Alternative:
    """One top-level alternative: the literal sets it requires and its compiled matchers."""

    __slots__ = ("ascii", "leading", "literals", "more_literals", "unicode")

    def __init__(
        self,
        literals: list[frozenset[str]],
        ascii_pattern: re.Pattern[str] | None,
        unicode_pattern: re.Pattern[str],
        leading: tuple[str, ...] | None = None,
    ) -> None:
        self.literals = literals
        # Literals (lower-case ASCII) every match starts with, if known: both matchers are tried
        # only where one of them occurs in the folded text.
        self.leading = leading
        # The sets to check once the first one was hit (a tuple: no per-search slicing).
        self.more_literals = tuple(literals[1:])
        self.ascii = ascii_pattern
        self.unicode = unicode_pattern


class FoldedPattern:
    """``search(text, folded, found)`` = ``pattern.search(text) is not None``, computed cheaply.

    ``folded`` must be ``fold(text)`` and ``found`` the literals a ``LiteralIndex`` that knows
    this pattern found in ``folded``; callers compute both once per text and share them.
    """

    __slots__ = ("_alternatives", "_always", "_by_literal", "_keys", "pattern")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self._alternatives = self._analyse(pattern)
        # literal -> the alternatives whose first (most selective) set holds it; alternatives
        # that require no literal at all are listed under "" and always tried.
        self._by_literal: dict[str, tuple[int, ...]] = {}
        for index, alternative in enumerate(self._alternatives or []):
            for literal in alternative.literals[0] if alternative.literals else ("",):
                self._by_literal[literal] = (*self._by_literal.get(literal, ()), index)
        # Most texts hold none of a pattern's literals: one set intersection answers that.
        self._keys = frozenset(self._by_literal)
        self._always = self._by_literal.get("", ())

    @staticmethod
    def _analyse(pattern: re.Pattern[str]) -> list[_Alternative] | None:
        if _sre_parser is None or not pattern.flags & re.IGNORECASE:
            return None
        flags = pattern.flags & ~re.UNICODE
        pieces = _split_alternatives(pattern.pattern) or [pattern.pattern]
        alternatives = []
        try:
            for piece in pieces:
                tree = _sre_parser.parse(piece, flags)
                required = [
                    literals
                    for literals in _required_literal_sets(tree)
                    if min(map(len, literals)) >= _MIN_LITERAL
                ]
                required.sort(key=lambda literals: (min(map(len, literals)), -len(literals)), reverse=True)
                fold_safe = _fold_safe(tree)
                alternatives.append(
                    _Alternative(
                        [frozenset(_without_superstrings(literals)) for literals in required[:_MAX_SETS]],
                        re.compile(piece, flags & ~re.IGNORECASE) if fold_safe else None,
                        re.compile(piece, flags),
                        _useful(_leading_literals(tree)) if fold_safe else None,
                    )
                )
        except (_UnsupportedError, re.error, TypeError, ValueError):
            return None
        return alternatives

    @property
    def literals(self) -> list[list[frozenset[str]]] | None:
        """Per alternative, the literal sets it requires (None = no analysis, plain search)."""
        if self._alternatives is None:
            return None
        return [alternative.literals for alternative in self._alternatives]

    def search(self, text: str, folded: str, found: set[str]) -> bool:
        alternatives = self._alternatives
        if alternatives is None:
            return self.pattern.search(text) is not None
        hits = self._keys.intersection(found)
        if not hits and not self._always:
            return False
        by_literal = self._by_literal
        if len(hits) == 1 and not self._always:
            candidates: Iterable[int] = by_literal[next(iter(hits))]  # already in pattern order
        else:
            candidates = sorted(
                {index for literal in hits for index in by_literal[literal]}.union(self._always)
            )
        is_ascii = text.isascii()
        # fold() maps each character to one character (checked, in case Unicode data changes), so
        # a literal found in ``folded`` is at the same position in ``text``.
        aligned = len(folded) == len(text)
        for index in candidates:  # in pattern order, like the regex itself
            alternative = alternatives[index]
            # The first literal set was hit; skip the alternative unless the others were too.
            for literals in alternative.more_literals:
                if found.isdisjoint(literals):
                    break
            else:
                leading = alternative.leading
                if is_ascii and alternative.ascii is not None:
                    if leading is not None:
                        if _matches_at_any(alternative.ascii, folded, folded, leading):
                            return True
                    elif alternative.ascii.search(folded) is not None:
                        return True
                elif leading is not None and aligned:
                    if _matches_at_any(alternative.unicode, text, folded, leading):
                        return True
                elif alternative.unicode.search(text) is not None:
                    return True
        return False


class LiteralIndex:
    """Finds, in one pass, which prefilter literals of some ``FoldedPattern``s occur in a text."""

    def __init__(self, patterns: Iterable[FoldedPattern]) -> None:
        literals: set[str] = set()
        for pattern in patterns:
            for sets in pattern.literals or []:
                for literal_set in sets:
                    literals.update(literal_set)
        self.literals = tuple(sorted(literals))
        self._automaton = (
            ahocorasick_rs.AhoCorasick(self.literals, matchkind=ahocorasick_rs.MATCHKIND_STANDARD)
            if self.literals
            else None
        )

    def find(self, folded: str) -> set[str]:
        """The literals that occur in ``folded`` (overlapping occurrences included)."""
        if self._automaton is None:
            return set()
        return set(self._automaton.find_matches_as_strings(folded, overlapping=True))
