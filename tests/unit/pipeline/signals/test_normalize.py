"""Evasions of the content signals are undone before any of them reads a prompt."""

from __future__ import annotations

import pytest

from detector.pipeline.content import prompt_signals
from detector.pipeline.signals.normalize import HEAD_CHARS, TAIL_CHARS, bounded_slice, normalize_prompt

PLAIN = "Solve the following problem. Think step by step and show your work: what is 17 * 23?"

EVASIONS = {
    "zero_width": PLAIN.replace("step", "st\u200bep").replace("work", "w\u200do\u2060rk"),
    "homoglyphs": PLAIN.replace("step", "st\u0435p").replace("show", "\u0455h\u043ew"),
    "full_width": PLAIN.replace("Think step by step", "\uff34\uff48\uff49\uff4e\uff4b step by step"),
    "spacing": PLAIN.replace(" by ", "   by\t ").replace("show your", "show \u00a0 your"),
    "dashes": PLAIN.replace("step by step", "step\u2011by\u2011step"),
    "case": PLAIN.replace("Think step by step", "tHiNk StEp By StEp"),
}


@pytest.mark.parametrize("name", sorted(EVASIONS))
def test_a_disguised_prompt_reads_like_the_plain_one(name: str) -> None:
    """Each disguise leaves the chain-of-thought and instruction flags as on the plain prompt."""
    plain = prompt_signals(normalize_prompt(PLAIN))
    disguised = prompt_signals(normalize_prompt(EVASIONS[name]))
    assert plain.cot_elicitation
    assert disguised.cot_elicitation == plain.cot_elicitation
    assert disguised.instruction_style == plain.instruction_style


def test_without_normalising_the_disguises_hide_the_phrase() -> None:
    """The disguises are real: read raw, zero-width characters and homoglyphs hide the phrase."""
    assert not prompt_signals(EVASIONS["zero_width"]).cot_elicitation
    assert not prompt_signals(EVASIONS["homoglyphs"]).cot_elicitation


def test_a_padded_prompt_is_read_through_its_ends() -> None:
    """A 300 KB prompt is cut to its head and tail, so the instruction at its end still counts."""
    padded = "lorem ipsum " * 25_000 + PLAIN
    sliced = bounded_slice(padded)
    assert len(sliced) == HEAD_CHARS + TAIL_CHARS + 1
    assert sliced.endswith(PLAIN)
    assert prompt_signals(normalize_prompt(padded)).cot_elicitation


def test_ordinary_non_latin_text_is_kept() -> None:
    """Chinese or Russian prose is not mangled beyond NFKC (only look-alikes map to Latin)."""
    chinese = "请一步一步地思考这个问题"
    assert normalize_prompt(chinese) == chinese
    assert normalize_prompt("Привет") != ""
