"""Pure text helpers: Unicode normalization, diacritic folding and closest-match lookup."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import TypeVar

_SPACES = re.compile(r"\s+")
T = TypeVar("T")


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


def split_chunks(text: str, limit: int) -> list[str]:
    """Split text into pieces of at most `limit` characters, cutting at a line break, else a space, else anywhere.

    The one splitter of the project (Telegram's 4,096 and Zalo's 2,000 characters, long reports): the separator
    a piece was cut at is dropped, nothing else, so joining the pieces with it gives the text back.
    """
    if limit <= 0:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut <= 0:
            pieces.append(rest[:limit])
            rest = rest[limit:]
            continue
        pieces.append(rest[:cut])
        rest = rest[cut + 1 :]
    if rest or not pieces:
        pieces.append(rest)
    return pieces


# Vietnamese alphabetical order: ă and â follow a, đ follows d, ê follows e, ô and ơ follow o, ư follows u. Tones are
# a secondary difference (CLDR "vi": none, huyền, hỏi, ngã, sắc, nặng), so "Ấp" sorts among the A's, never after Z.
_VI_LETTERS = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_VI_RANK = {ch: i for i, ch in enumerate(_VI_LETTERS)}
_VI_MARKS = {"\u0306": "ă", "\u0302": "^", "\u031b": "+"}  # breve, circumflex, horn: part of the letter
_VI_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
_DIGITS = re.compile(r"([0-9]+)")


def _vi_letter(base: str, mark: str | None) -> str:
    if mark == "ă":
        return "ă"
    if mark == "^":
        return {"a": "â", "e": "ê", "o": "ô"}.get(base, base)
    if mark == "+":
        return {"o": "ơ", "u": "ư"}.get(base, base)
    return base


def vi_sort_key(text: str) -> tuple[tuple[tuple[int, int | str], ...], tuple[int, ...], str]:
    """A sort key in Vietnamese alphabetical order: letters, then tones; numbers by value ("Thôn 2" < "Thôn 10")."""
    primary: list[tuple[int, int | str]] = []
    tones: list[int] = []
    decomposed = unicodedata.normalize("NFD", _SPACES.sub(" ", text.strip()).lower())
    for part in _DIGITS.split(decomposed):
        if part.isascii() and part.isdigit():
            primary.append((1, int(part)))
            continue
        # One entry per base character, with its letter marks (ă, â, ơ...) and tone gathered from what follows it.
        letters: list[list[str | None]] = []
        part_tones: list[int] = []
        for ch in part:
            if unicodedata.combining(ch) and letters:
                if ch in _VI_TONES:
                    part_tones[-1] = _VI_TONES[ch]
                elif ch in _VI_MARKS:
                    letters[-1][1] = _VI_MARKS[ch]
            elif not unicodedata.combining(ch):
                letters.append([ch, None])
                part_tones.append(0)
        for (base, mark), tone in zip(letters, part_tones, strict=True):
            letter = _vi_letter(str(base), mark)
            rank = _VI_RANK.get(letter)
            if rank is not None:
                primary.append((2, rank))
            else:
                # Spaces and punctuation before digits before letters, as in a dictionary.
                primary.append((3 if letter.isalnum() else 0, letter))
            tones.append(tone)
    return tuple(primary), tuple(tones), text


def vi_sorted(items: Iterable[T], key: Callable[[T], str] | None = None) -> list[T]:
    """Items sorted in Vietnamese alphabetical order (by `key(item)`, or the item itself when a string)."""
    pick: Callable[[T], str] = key if key is not None else (lambda item: str(item))
    return sorted(items, key=lambda item: vi_sort_key(pick(item)))
