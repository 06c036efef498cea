"""Folding text for search, the same way on every database.

Both engines are handed text this module has already folded into words: lower case
(``casefold``), compatibility forms decomposed (NFKD) and every combining mark removed, so
that ``Škola``, ``škola`` and ``SKOLA`` meet, Arabic short vowels (harakat) and the
tatweel are ignored, and the Arabic letter variants people type interchangeably are
merged (alef with hamza or madda → alef, alef maqsura → ya, ta marbuta → ha). Words are
maximal runs of letters and digits; everything else separates them. SQLite's FTS5 index
(tokeniser ``unicode61``, its own diacritic removal off) and PostgreSQL's ``tsvector``
(built from the word list, not by its parser) therefore see exactly the same words, and
a query matches the same records on both.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

_ARABIC_FOLDS = str.maketrans(
    {
        "\u0622": "\u0627",  # alef with madda above
        "\u0623": "\u0627",  # alef with hamza above
        "\u0625": "\u0627",  # alef with hamza below
        "\u0671": "\u0627",  # alef wasla
        "\u0649": "\u064a",  # alef maqsura → ya
        "\u0629": "\u0647",  # ta marbuta → ha
        "\u0640": None,  # tatweel (kashida), only stretches a word
    }
)
_WORD = re.compile(r"[^\W_]+")
MAX_QUERY_WORDS = 12
# Longer runs (base64, hashes pasted into a note) are cut: PostgreSQL refuses lexemes over
# 2 KiB, and nobody searches by the 65th letter of a word.
MAX_WORD = 64


@functools.cache
def _without_marks() -> dict[int, None]:
    """A translation table dropping every combining mark of this Python's Unicode database
    (made on first use: it takes a scan of all code points). ``str.translate`` drops them
    several times faster than a regular expression of the marks."""
    return dict.fromkeys(c for c in range(sys.maxunicode + 1) if unicodedata.combining(chr(c)))


def fold(text: str) -> str:
    """``text`` lower-cased, without diacritics or combining marks (see module docstring)."""
    if text.isascii():
        return text.lower()
    # Compatibility forms first (a mathematical S → S), then case (S → s), then decomposed
    # again, since case folding can yield letters that decompose further.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    bare = decomposed.translate(_without_marks())
    return unicodedata.normalize("NFC", bare).translate(_ARABIC_FOLDS)


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order."""
    return [word[:MAX_WORD] for word in _WORD.findall(fold(text))]


def index_text(*parts: str) -> str:
    """The folded words of ``parts`` joined by spaces: what the search index stores."""
    found: list[str] = []
    for part in parts:
        found += _WORD.findall(fold(part))
    return " ".join([word[:MAX_WORD] for word in found])


def query_words(query: str) -> list[str]:
    """The distinct folded words of a query, at most :data:`MAX_QUERY_WORDS`."""
    seen: list[str] = []
    for word in words(query):
        if word not in seen:
            seen.append(word)
    return seen[:MAX_QUERY_WORDS]
