"""Prompt-content signals computed in memory and reduced to booleans and hashes at once.

Prompt text is sensitive: nothing here keeps it. Each function reads the text and returns a
number; the caller stores only those numbers (and 64-bit hashes of normalised prefixes, which
cannot be turned back into text).
"""

from __future__ import annotations

import re
import zlib
from typing import NamedTuple

# Phrases that ask the model to write out its reasoning: the material a distiller wants most.
_COT_ELICITATION = re.compile(
    r"step[- ]by[- ]step|show (?:all |every |each )?(?:of )?(?:your |the )?(?:work|steps|reasoning)"
    r"|explain (?:your|the) (?:reasoning|thinking|thought process)|chain[- ]of[- ]thought"
    r"|reasoning behind|internal reasoning|think (?:carefully|it through|through)"
    r"|walk (?:me )?through|justify your answer|reason (?:about|through) (?:it|this)"
    r"|let'?s think|before answering, (?:think|reason)",
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
    normalised = " ".join("0" if w.isdigit() else w for w in words)
    return zlib.crc32(normalised.encode())


def prompt_signals(prompt: str) -> PromptSignals:
    """Reduce a prompt to the few numbers scoring needs; the text is not kept."""
    scanned = prompt[:_SCAN_CHARS] + "\n" + prompt[-_SCAN_CHARS:] if len(prompt) > 2 * _SCAN_CHARS else prompt
    lowered = scanned.lower()
    words = _WORD.findall(lowered)
    first = words[0] if words else ""
    instruction = first in _INSTRUCTION_OPENERS or _INSTRUCTION_MARKERS.search(scanned) is not None
    return PromptSignals(
        cot_elicitation=_COT_ELICITATION.search(scanned) is not None,
        instruction_style=instruction,
        rubric_grading=_RUBRIC_GRADING.search(scanned) is not None,
        head_key=_template_key(words[:_TEMPLATE_WORDS]),
        tail_key=_template_key(words[-_TEMPLATE_WORDS:]),
        content_key=zlib.crc32(lowered.encode()),
    )
