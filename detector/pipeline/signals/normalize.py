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
# confusables list for Cyrillic and Greek, written as escapes); NFKC does not map them.
_HOMOGLYPHS = dict(
    zip(
        "\u0430\u0432\u0435\u0451\u043a\u043c\u043d\u043e\u0440\u0441\u0442\u0443\u0445\u0455\u0456\u0457\u0458\u0501\u051b\u051d\u0461\u04bb\u0261"
        "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0423\u0425\u0405\u0406\u0408\u03b1\u03b5\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4\u03c5\u03c7\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7",
        "abeekmhopctyxsiijdqwwhgABEKMHOPCTYXSIJaeikvoptuxABEZHIKMNOPTYX",
        strict=True,
    )
)
# Dashes and hyphens of other code points ("step-by-step" spelt with U+2011) read as ASCII ones.
_DASHES = dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-")
_TABLE = str.maketrans({**dict.fromkeys(_INVISIBLE), **_HOMOGLYPHS, **_DASHES})
_DISGUISES = re.compile("[" + re.escape("".join(chr(c) for c in _TABLE)) + "]")
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
        # Most non-ASCII prompts are ordinary text in another script: the translation table is
        # applied only where one of its characters occurs, NFKC only where it changes anything
        # (each check is one C pass; the rewrites cost ~20 us on a long prompt).
        if _DISGUISES.search(text) is not None:
            text = text.translate(_TABLE)
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
    if "  " in text or "\t" in text or "\u00a0" in text or "\u3000" in text:
        text = _SPACES.sub(" ", text)
    return text
