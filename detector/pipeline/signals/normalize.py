"""Prompt text as content signals should read it: evasions undone, length bounded.

A distiller who knows a detector reads phrases can hide them from a naive matcher for free:
zero-width characters inside words, Cyrillic or Greek look-alike letters, full-width forms,
odd case and runs of spaces. Each is undone here with one C-level pass (``str.translate`` and
NFKC), and only on text that is not plain ASCII (nearly every honest prompt is, and ASCII holds
none of these tricks except spacing). The slice is bounded — the head and the tail of a prompt,
where instructions and templates live — so a padded 300 KB prompt costs what a short one does
and is still read.
"""

from __future__ import annotations

import re
import unicodedata

# How much of a prompt is read: instructions and templates sit at its ends.
HEAD_CHARS = 4_000
TAIL_CHARS = 1_000

# Invisible format characters used to split words: zero-width space/joiners, bidi marks and
# embeddings, word joiner and invisible operators, BOM, soft hyphen, Mongolian vowel separator,
# combining grapheme joiner.
_INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e"
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\u3164\ufeff\uffa0"
)
# Letters of other scripts that render like Latin ones (the common entries of Unicode's
# confusables list for Cyrillic and Greek); NFKC does not map them.
_HOMOGLYPHS = {
    # Cyrillic lower / upper
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "ѡ": "w", "һ": "h", "ɡ": "g",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J",
    # Greek lower / upper
    "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}  # fmt: skip
# Dashes and hyphens of other code points ("step‑by‑step" with U+2011) read as ASCII ones.
_DASHES = dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-")
_TABLE = str.maketrans({**dict.fromkeys(_INVISIBLE), **_HOMOGLYPHS, **_DASHES})
_SPACES = re.compile(r"[ \t\u00a0\u3000]{2,}")


def bounded_slice(prompt: str) -> str:
    """The head and tail of a long prompt, joined by a newline (the whole of a short one)."""
    if len(prompt) <= HEAD_CHARS + TAIL_CHARS:
        return prompt
    return prompt[:HEAD_CHARS] + "\n" + prompt[-TAIL_CHARS:]


def normalize_prompt(prompt: str) -> str:
    """The bounded slice of ``prompt`` with evasions undone; case is left to the readers.

    >>> normalize_prompt("St\u200bep by  st\u0435p")
    'Step by step'
    """
    text = bounded_slice(prompt)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text.translate(_TABLE))
    if "  " in text or "\t" in text or "\u00a0" in text or "\u3000" in text:
        text = _SPACES.sub(" ", text)
    return text
