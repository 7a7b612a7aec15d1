"""Pure text helpers: Unicode normalization, diacritic folding and closest-match lookup."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable

_SPACES = re.compile(r"\s+")


def nfc(text: str) -> str:
    """Normalize text to NFC (phones send both NFC and NFD)."""
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """Lower-case, strip Vietnamese diacritics (đ -> d) and collapse whitespace, for matching."""
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.replace("đ", "d").replace("Đ", "D")
    return _SPACES.sub(" ", stripped.lower()).strip()


def fold_compact(text: str) -> str:
    """Fold and drop every non-alphanumeric character ("Thôn 3" and "thon3" become equal)."""
    return "".join(ch for ch in fold(text) if ch.isalnum())


def closest(query: str, choices: Iterable[str], limit: int = 3, cutoff: float = 0.6) -> list[str]:
    """Return up to `limit` choices closest to `query`, comparing folded forms."""
    folded: dict[str, str] = {}
    for choice in choices:
        folded.setdefault(fold(choice), choice)
    hits = difflib.get_close_matches(fold(query), list(folded), n=limit, cutoff=cutoff)
    return [folded[h] for h in hits]


def similarity(a: str, b: str) -> float:
    """Similarity in [0, 1] of two strings after folding."""
    return difflib.SequenceMatcher(None, fold_compact(a), fold_compact(b)).ratio()


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: how Zalo counts its 2,000-character limit (an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def _fits(text: str, limit: int, length: Callable[[str], int]) -> int:
    """How many leading characters of `text` fit in `limit` units (at least 1, so a cut always progresses)."""
    if length is len:
        return limit
    total = 0
    for index, char in enumerate(text):
        total += length(char)
        if total > limit:
            return max(1, index)
    return len(text)


def split_chunks(text: str, limit: int, length: Callable[[str], int] = len) -> list[str]:
    """Split text into pieces of at most `limit` units, cutting at a line break, else a space, else anywhere.

    The one splitter of the project (Telegram's 4,096 characters, Zalo's 2,000 UTF-16 units, long reports): the
    separator a piece was cut at is dropped, nothing else, so joining the pieces with it gives the text back.
    `length` measures a piece (characters by default, `utf16_len` for Zalo); it must add up over characters.
    """
    if limit <= 0:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text
    while length(rest) > limit:
        fit = _fits(rest, limit, length)
        cut = rest.rfind("\n", 0, fit + 1)
        if cut <= 0:
            cut = rest.rfind(" ", 0, fit + 1)
        if cut <= 0:
            pieces.append(rest[:fit])
            rest = rest[fit:]
            continue
        pieces.append(rest[:cut])
        rest = rest[cut + 1 :]
    if rest or not pieces:
        pieces.append(rest)
    return pieces
