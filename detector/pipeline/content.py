"""Prompt-content signals computed in memory and reduced to booleans and hashes at once.

Prompt text is sensitive: nothing here keeps it. Each function reads the text and returns a
number; the caller stores only those numbers (and 64-bit hashes of normalised prefixes, which
cannot be turned back into text).
"""

from __future__ import annotations

import re
import zlib
from typing import NamedTuple

from detector.pipeline.textscan import FoldedPattern, LiteralIndex, fold

# Phrases that ask the model to write out its reasoning: the material a distiller wants most.
_COT_ELICITATION = re.compile(
    r"step[- ]by[- ]step|chain[- ]of[- ]thought|thought process|reasoning behind|internal reasoning"
    r"|(?:show|write out|explain|articulate|give|include|detail) (?:all |every |each |me )?(?:of )?"
    r"(?:your |the |its )?(?:full |complete |whole |entire |detailed )?"
    r"(?:work|steps|reasoning|thinking|thoughts|derivation|rationale)"
    r"|think (?:carefully|hard|deeply|it through|through|aloud|out loud)"
    r"|reason (?:carefully|thoroughly|step|about (?:it|this)|through)|walk (?:me )?through"
    r"|justify your answer|verify your (?:answer|work)|consider (?:every|all) (?:possibilit|option|case)"
    r"|let'?s think|before answering, (?:think|reason)|in detail",
    re.IGNORECASE,
)

# Instruction-dataset shape: an imperative task, often followed by an "input" block.
_INSTRUCTION_OPENERS = frozenset(
    [
        "write",
        "generate",
        "create",
        "explain",
        "solve",
        "classify",
        "translate",
        "summarize",
        "summarise",
        "give",
        "list",
        "describe",
        "rewrite",
        "answer",
        "compute",
        "calculate",
        "convert",
        "implement",
        "identify",
        "find",
        "determine",
        "provide",
        "compose",
        "design",
        "evaluate",
        "analyze",
        "analyse",
        "suggest",
        "predict",
        "extract",
        "correct",
        "complete",
        "fix",
        "edit",
        "paraphrase",
        "outline",
        "compare",
        "construct",
        "develop",
        "produce",
        "draft",
        "formulate",
        "rank",
        "sort",
        "debug",
        "optimize",
        "refactor",
        "you",
        "imagine",
        "pretend",
        "act",
        "roleplay",
    ]
)
_INSTRUCTION_MARKERS = re.compile(
    r"^\s*(?:###|instruction:|input:|question:|task:|problem:)|\n\s*(?:input|output|answer|response):",
    re.IGNORECASE | re.MULTILINE,
)

# Asking the model to grade or score: used to harvest reward-model style judgements.
_RUBRIC_GRADING = re.compile(
    r"\brubric\b|\bgrade (?:the|this)\b|\bscore (?:the|this) (?:following|response|answer)"
    r"|rate (?:the|this) .{0,40}on a scale|which (?:response|answer) is better",
    re.IGNORECASE,
)

_WORD = re.compile(r"[a-z]+|\d+")
_TEMPLATE_WORDS = 4
# Only the head and tail of a prompt are scanned: templates live there, and it bounds the cost
# of a hostile multi-megabyte prompt.
_SCAN_CHARS = 2_000

# Fast, exact versions of the three searches (see textscan.py: literal prefilter, case folding
# done once per prompt).
_COT_SEARCH = FoldedPattern(_COT_ELICITATION)
_INSTRUCTION_SEARCH = FoldedPattern(_INSTRUCTION_MARKERS)
_RUBRIC_SEARCH = FoldedPattern(_RUBRIC_GRADING)
_LITERALS = LiteralIndex((_COT_SEARCH, _INSTRUCTION_SEARCH, _RUBRIC_SEARCH))
# When a slice of this many characters at either end holds more than _TEMPLATE_WORDS words, the
# word the slice may cut cannot be among the first (or last) _TEMPLATE_WORDS: words are maximal
# runs of letters or of digits, so tokenising the whole prompt is not needed.
_EDGE_CHARS = 96
# ASCII fast path of _WORD: bytes other than a-z and 0-9 become spaces, so (on lower-cased ASCII)
# the words are the space-separated runs, unless a run mixes letters and digits ("gpt4" is two).
_NOT_WORD = bytes.maketrans(
    bytes(b for b in range(256) if not (97 <= b <= 122 or 48 <= b <= 57)), b" " * (256 - 36)
)
_LETTERS_AND_SPACE = b" abcdefghijklmnopqrstuvwxyz"


def _edge_words(lowered: str) -> tuple[list[str], list[str]]:
    """The first and last ``_TEMPLATE_WORDS`` of ``_WORD.findall(lowered)``, tokenising only the
    two ends of a long prompt."""
    if len(lowered) <= 2 * _EDGE_CHARS:
        words: list[str] = _WORD.findall(lowered)
        return words[:_TEMPLATE_WORDS], words[-_TEMPLATE_WORDS:]
    head: list[str] = _WORD.findall(lowered, 0, _EDGE_CHARS)
    tail: list[str] = _WORD.findall(lowered, len(lowered) - _EDGE_CHARS)
    if len(head) > _TEMPLATE_WORDS and len(tail) > _TEMPLATE_WORDS:
        return head[:_TEMPLATE_WORDS], tail[-_TEMPLATE_WORDS:]
    words = _WORD.findall(lowered)
    return words[:_TEMPLATE_WORDS], words[-_TEMPLATE_WORDS:]


def _plain_runs(runs: list[bytes]) -> bool:
    return all(run.isalpha() or run.isdigit() for run in runs)


def _edge_key_bytes(runs: list[bytes]) -> int | None:
    """``_template_key`` of the first (or last) runs of a spaced ASCII prompt; None if a run mixes
    letters and digits (then ``_WORD`` splits it, and the slow path is taken)."""
    joined = b" ".join(runs)
    if not joined.translate(None, _LETTERS_AND_SPACE):  # letters only: the usual case
        return zlib.crc32(joined)
    if _plain_runs(runs):
        return _template_key_bytes(runs)
    return None


def _edge_runs(encoded: bytes) -> tuple[list[bytes], list[bytes]]:
    """The first and last ``_TEMPLATE_WORDS`` space-separated runs of ``encoded`` (lower-cased
    ASCII) after ``_NOT_WORD``, reading only its two ends when they hold enough runs (as in
    ``_edge_words``: a run the slice cuts is then not among them)."""
    if len(encoded) > 2 * _EDGE_CHARS:
        head = encoded[:_EDGE_CHARS].translate(_NOT_WORD).split(None, _TEMPLATE_WORDS)
        tail = encoded[-_EDGE_CHARS:].translate(_NOT_WORD).rsplit(None, _TEMPLATE_WORDS)
        if len(head) > _TEMPLATE_WORDS and len(tail) > _TEMPLATE_WORDS:
            return head[:_TEMPLATE_WORDS], tail[-_TEMPLATE_WORDS:]
    spaced = encoded.translate(_NOT_WORD)
    return spaced.split(None, _TEMPLATE_WORDS)[:_TEMPLATE_WORDS], spaced.rsplit(None, _TEMPLATE_WORDS)[
        -_TEMPLATE_WORDS:
    ]


def _edge_keys(lowered: str, encoded: bytes) -> tuple[str, int, int]:
    """(first word, head template key, tail template key) of a lower-cased prompt."""
    if lowered.isascii():
        head, tail = _edge_runs(encoded)
        head_key = _edge_key_bytes(head)
        tail_key = _edge_key_bytes(tail)
        if head_key is not None and tail_key is not None:
            return (head[0].decode() if head else ""), head_key, tail_key
    first, last = _edge_words(lowered)
    return (first[0] if first else ""), _template_key(first), _template_key(last)


class PromptSignals(NamedTuple):
    """What one prompt contributes to its account's state: flags and irreversible hashes."""

    cot_elicitation: bool
    instruction_style: bool
    rubric_grading: bool
    head_key: int
    tail_key: int
    content_key: int


def _template_key(words: list[str]) -> int:
    # Digits are collapsed so "Problem 17:" and "Problem 18:" share one template.
    normalised = " ".join(["0" if w.isdigit() else w for w in words])
    return zlib.crc32(normalised.encode())


def _template_key_bytes(words: list[bytes]) -> int:
    """``_template_key`` of ASCII words given as bytes (the same key)."""
    return zlib.crc32(b" ".join([b"0" if w.isdigit() else w for w in words]))


def prompt_signals(prompt: str) -> PromptSignals:
    """Reduce a prompt to the few numbers scoring needs; the text is not kept."""
    scanned = prompt[:_SCAN_CHARS] + "\n" + prompt[-_SCAN_CHARS:] if len(prompt) > 2 * _SCAN_CHARS else prompt
    lowered = scanned.lower()
    folded = lowered if scanned.isascii() else fold(scanned)
    encoded = lowered.encode()
    first, head_key, tail_key = _edge_keys(lowered, encoded)
    found = _LITERALS.find(folded)
    instruction = first in _INSTRUCTION_OPENERS or _INSTRUCTION_SEARCH.search(scanned, folded, found)
    return PromptSignals(
        cot_elicitation=_COT_SEARCH.search(scanned, folded, found),
        instruction_style=instruction,
        rubric_grading=_RUBRIC_SEARCH.search(scanned, folded, found),
        head_key=head_key,
        tail_key=tail_key,
        content_key=zlib.crc32(encoded),
    )
