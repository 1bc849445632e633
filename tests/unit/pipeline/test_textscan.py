"""The fast prompt scan answers exactly what the plain regexes answer, on any text."""

from __future__ import annotations

import re
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.pipeline import content
from detector.pipeline.content import PromptSignals, prompt_signals
from detector.pipeline.textscan import FoldedPattern, LiteralIndex, _split_alternatives, fold

PATTERNS = (content._COT_ELICITATION, content._INSTRUCTION_MARKERS, content._RUBRIC_GRADING)


def reference_signals(prompt: str) -> PromptSignals:
    """``prompt_signals`` as first written: every regex over the text, every word tokenised."""
    limit = content._SCAN_CHARS
    scanned = prompt[:limit] + "\n" + prompt[-limit:] if len(prompt) > 2 * limit else prompt
    lowered = scanned.lower()
    words = content._WORD.findall(lowered)
    first = words[0] if words else ""
    instruction = (
        first in content._INSTRUCTION_OPENERS or content._INSTRUCTION_MARKERS.search(scanned) is not None
    )
    return PromptSignals(
        cot_elicitation=content._COT_ELICITATION.search(scanned) is not None,
        instruction_style=instruction,
        rubric_grading=content._RUBRIC_GRADING.search(scanned) is not None,
        head_key=content._template_key(words[: content._TEMPLATE_WORDS]),
        tail_key=content._template_key(words[-content._TEMPLATE_WORDS :]),
        content_key=zlib.crc32(lowered.encode()),
    )


def _phrases() -> list[str]:
    """Literal pieces of the patterns, so generated text often (nearly) matches them."""
    pieces: set[str] = set()
    for pattern in PATTERNS:
        pieces.update(piece for piece in re.split(r"[^A-Za-z' ,:#]+", pattern.pattern) if piece.strip())
    return sorted(pieces)


# Case variants, the four non-ASCII characters that `re` folds onto ASCII letters, a title-case
# digraph, a character whose lower case is longer (U+0130), and separators the patterns care about.
_ODD = [
    "\u0130",
    "\u0131",
    "\u017f",
    "\u212a",
    "\u01c5",
    "\u00df",
    "\u00e9",
    "\u2028",
    "\n",
    "\t",
    "\x1c",
    "  ",
]
_pieces = st.one_of(
    st.sampled_from(_phrases()).map(lambda p: p.upper() if len(p) % 3 == 0 else p),
    st.sampled_from(_ODD),
    st.text(max_size=12),
    st.from_regex(r"[A-Za-z0-9 ]{1,20}", fullmatch=True),
)
texts = st.lists(_pieces, max_size=30).map(" ".join)


EDGE_CASES = [
    "",
    "Think step by step.",
    "THINK STEP BY STEP",
    "\u017ftep by \u017ftep",  # long s: IGNORECASE matches it as "s"
    "\u0130nternal reasoning",  # dotted capital I: folds to "i" in re, to "i\u0307" in str.lower
    "explain your reasoning \u212a",  # Kelvin sign
    "show all of your work",
    "### Instruction:\nWrite a poem\n### Response:",
    "Q\ninput: 3\noutput:",
    "Rate this essay on a scale of 1 to 10",
    "rate the answer " + "x" * 41 + "on a scale",
    "Which response is better, A or B?",
    "grade this",
    "a" * 5000 + " think carefully " + "b" * 5000,
    "word " * 30 + "12abc34 " * 3,
    "x" * 95 + "abcdef ghi",
    "GPT4o vs gpt-3.5: which is better? h2o h2o h2o h2o",  # runs that mix letters and digits
    "Problem 17: add 3 and 4. Answer 7",
    "caf\u00e9 na\u00efve 12 r\u00e9sum\u00e9 \u0663\u0664 words",  # non-ASCII letters and digits
    # Long prompts whose fourth word from either end runs across an edge window's cut.
    "ab cd ef " + "x" * 200 + " gh ij kl mn",
    "ab cd ef gh " + "x" * 200 + " ij kl mn",
    "ab cd ef gh " + "7" * 150 + "a" + " ij kl mn op",
    "Ab, cd. " + "x" * 88 + "y" * 30 + " qr st uv wx",
]


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_match_the_reference(text: str) -> None:
    """Hand-picked prompts (case, Unicode folding, long text, word cuts) give the reference result."""
    assert prompt_signals(text) == reference_signals(text)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_generated_prompts_match_the_reference(text: str) -> None:
    """Any prompt, built from the patterns' own phrases and odd characters, gives the reference."""
    assert prompt_signals(text) == reference_signals(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_unicode_matches_the_reference(text: str) -> None:
    """Arbitrary Unicode text gives the reference result too."""
    assert prompt_signals(text) == reference_signals(text)


@pytest.mark.parametrize(
    ("source", "flags"),
    [
        (r"(a)\1|step", re.IGNORECASE),  # back-reference: plain search for that alternative
        (r"(?i)foo|bar", re.IGNORECASE),  # inline global flag: not split
        (r"foo|(?-i:Bar)", re.IGNORECASE),  # scoped flag: analysis refused
        (r"[A-Z]+ing|x{0,3}", re.IGNORECASE),  # upper-case class; an alternative with no literal
        (r"step", 0),  # case-sensitive pattern: plain search
        (r"a[|]b|c\|d|(e|f)g", re.IGNORECASE),  # bars that do not split
    ],
)
def test_unusual_patterns_still_answer_like_re(source: str, flags: int) -> None:
    """Constructs the analysis does not model fall back to the plain search, never a wrong answer."""
    pattern = re.compile(source, flags)
    fast = FoldedPattern(pattern)
    index = LiteralIndex([fast])
    for text in ["STEP", "aa", "Foo", "BAR", "bar", "ABCING", "", "a|b", "c|d", "eg", "FG", "\u017fTEP"]:
        folded = fold(text)
        assert fast.search(text, folded, index.find(folded)) == (pattern.search(text) is not None), text


def test_alternatives_are_split_only_at_the_top_level() -> None:
    """`|` inside groups, classes or escapes does not split a pattern."""
    assert _split_alternatives(r"a[|]b|c\|d|(e|f)g") == ["a[|]b", r"c\|d", "(e|f)g"]
    assert _split_alternatives(r"[]|]x|y") == ["[]|]x", "y"]
    assert _split_alternatives(r"(?i)a|b") is None


def test_every_pattern_gets_a_prefilter() -> None:
    """The detector's own patterns are all understood (else the fast path silently is not fast)."""
    for search in (content._COT_SEARCH, content._INSTRUCTION_SEARCH, content._RUBRIC_SEARCH):
        assert search.literals is not None
        assert all(sets for sets in search.literals), search.pattern.pattern


# Patterns whose matches start with known literals, so the search runs only where one occurs:
# word boundaries, line starts and look-behinds right at such a position, overlapping
# occurrences, and a literal that occurs but does not start a match.
ANCHORED = [
    (r"(?:show|give|include) (?:all |your )?(?:work|steps)", re.IGNORECASE),
    (r"step[- ]by[- ]step", re.IGNORECASE),
    (r"abc\b", re.IGNORECASE),
    (r"abc(?<=xabc)", re.IGNORECASE),
    (r"(?:abc|xyz)(?!e)", re.IGNORECASE),
    (r"aaa[bc]", re.IGNORECASE),
    (r"sta(?:rt|ck)\s*$", re.IGNORECASE | re.MULTILINE),
    (r"kelvin (?:is|was)", re.IGNORECASE),
]
ANCHORED_TEXTS = [
    "",
    "please SHOW ALL WORK",
    "give me your steps",
    "show showall work; give your  steps; include all steps",
    "step by step",
    "STEP-BY-STEP",
    "\u017ftep by \u017ftep",
    "xabc abcd abc",
    "abcx xabcx",
    "xyze abce xyz",
    "aaaab",
    "aaa b aaaac",
    "start\nstack  \nend",
    "\u212aelvin is cold, kelvin IS",
    "\u0130nclude all steps \u0131nclude your work",
]
_anchored_texts = st.one_of(
    texts,
    st.lists(st.sampled_from([*ANCHORED_TEXTS, "abc", "aaa", " b", "x", "\n", "\u0130"]), max_size=12).map(
        "".join
    ),
)


def test_the_detector_patterns_use_leading_literals() -> None:
    """The costly alternatives start with literals, so they are tried only where those occur."""
    leading = [alt.leading for alt in content._COT_SEARCH._alternatives or []]
    assert ("show", "write out", "explain", "articulate", "give", "include", "detail") in leading
    # A one-character literal (a newline) is found everywhere: re's own scan is used instead.
    assert all(alt.leading is None for alt in content._INSTRUCTION_SEARCH._alternatives or [])


@pytest.mark.parametrize(("source", "flags"), ANCHORED)
def test_anchored_patterns_answer_like_re_on_fixed_texts(source: str, flags: int) -> None:
    """Searching only at leading literals (ASCII and non-ASCII text) answers like ``re``."""
    pattern = re.compile(source, flags)
    fast = FoldedPattern(pattern)
    assert fast._alternatives is not None and any(alt.leading for alt in fast._alternatives)
    index = LiteralIndex([fast])
    for text in ANCHORED_TEXTS:
        for variant in (text, text.upper(), text + " \u00e9"):
            folded = fold(variant)
            assert fast.search(variant, folded, index.find(folded)) == (
                pattern.search(variant) is not None
            ), variant


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ANCHORED), _anchored_texts)
def test_anchored_patterns_answer_like_re_on_generated_texts(
    pattern_flags: tuple[str, int], text: str
) -> None:
    """The same on generated text: any text, the patterns' own phrases, odd characters."""
    source, flags = pattern_flags
    pattern = re.compile(source, flags)
    fast = FoldedPattern(pattern)
    index = LiteralIndex([fast])
    folded = fold(text)
    assert fast.search(text, folded, index.find(folded)) == (pattern.search(text) is not None)


_word = st.from_regex(r"[A-Za-z]{1,9}|[0-9]{1,4}|[a-z]{1,3}[0-9]{1,2}", fullmatch=True)
_gap = st.sampled_from([" ", "  ", ", ", ".\n", " - ", "'", "\t"])
# Few words at each end and a long run between them, so the edge windows often cut a run that
# is (or is not) among the first or last words.
long_prompts = st.tuples(
    st.lists(st.tuples(_word, _gap).map("".join), max_size=8).map("".join),
    st.sampled_from(["x", "7", "ab1", " ", "word "]),
    st.integers(min_value=0, max_value=300),
    st.lists(st.tuples(_gap, _word).map("".join), max_size=8).map("".join),
).map(lambda parts: parts[0] + (parts[1] * parts[2])[: parts[2]] + parts[3])


@settings(max_examples=400, deadline=None)
@given(long_prompts)
def test_long_prompts_with_words_at_the_cut_match_the_reference(text: str) -> None:
    """Prompts longer than the two edge windows, with words, digits and mixed runs where the
    windows cut: the template keys read from the edges equal those of the whole prompt."""
    assert prompt_signals(text) == reference_signals(text)
