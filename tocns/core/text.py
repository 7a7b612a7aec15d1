"""Pure text helpers: Unicode normalization, diacritic folding, closest-match lookup and echoing user text."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TypeVar

_SPACES = re.compile(r"\s+")
T = TypeVar("T")


def nfc(text: str) -> str:
    """Normalize text to NFC (phones send both NFC and NFD)."""
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """Lower-case, strip Vietnamese diacritics (đ -> d) and collapse whitespace, for matching."""
    if not text.isascii():
        # Character by character, each one's bare form remembered: the same as decomposing the whole text, since
        # canonical reordering only moves the combining marks dropped here. Lower-cased whole (Greek final sigma).
        text = "".join(map(bare_character, text))
    return _SPACES.sub(" ", text.lower()).strip()


@lru_cache(maxsize=4096)
def bare_character(ch: str) -> str:
    """One character without its diacritics (NFD, combining marks dropped; đ -> d), case kept; remembered."""
    decomposed = unicodedata.normalize("NFD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("đ", "d").replace("Đ", "D")


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


def grouped(value: int) -> str:
    """A count as Vietnamese writes it: thousands grouped with dots (1.048.575)."""
    return f"{value:,}".replace(",", ".")


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
        if cut == 0:
            # A piece never starts with the separator it would be cut at: drop that one blank and look again.
            rest = rest[1:]
            continue
        if cut < 0:
            # No blank to cut at: cut anywhere, but never inside a mention marker (core.mentions: \x1d … \x1e).
            opened = rest.rfind("\x1d", 0, fit)
            if opened > 0 and "\x1e" not in rest[opened:fit]:
                fit = opened
            pieces.append(rest[:fit])
            rest = rest[fit:]
            continue
        pieces.append(rest[:cut])
        rest = rest[cut + 1 :]
    if rest or not pieces:
        pieces.append(rest)
    return pieces


# Characters that change how a line looks without being text: controls (newline, tab, NUL, ESC), line and
# paragraph separators, and format characters (bidi overrides and isolates, zero-width spaces, BOM).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
# Kept: the zero-width joiner, which only draws emoji sequences (👨‍👩‍👧) and cannot move or break a line.
_KEPT_FORMAT = frozenset({"\u200d"})
USER_TEXT_LIMIT = 200
NAME_LIMIT = 64


def _visible(ch: str) -> bool:
    return ch in _KEPT_FORMAT or unicodedata.category(ch) not in _INVISIBLE_CATEGORIES


def clean_text(text: str) -> str:
    """Drop NUL, controls (except newline and tab), bidi overrides and lone surrogates; keep line breaks.

    For text the bot stores and shows as a body of its own (a directive's text): lines stay lines.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or _visible(ch))


def one_line(text: str | None, limit: int = USER_TEXT_LIMIT) -> str:
    """Fold user text to one printable line (controls, bidi overrides, breaks become spaces), at most `limit`
    characters with an ellipsis: what anyone typed can never start a line of the bot's reply."""
    if not text:
        return ""
    flat = nfc(text)
    if not flat.isprintable():  # printable (checked in C) has none of the invisible categories: the common case
        flat = "".join(ch if _visible(ch) else " " for ch in flat)
    flat = _SPACES.sub(" ", flat).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def quoted(text: str | None, limit: int = USER_TEXT_LIMIT) -> str:
    """User text folded to one line, capped and put between quotation marks, for echoing in a reply."""
    return f"“{one_line(text, limit)}”"


def person_name(text: str | None) -> str:
    """A person's display name (user-supplied) folded to one short line that starts with a letter or digit.

    Names open lines of replies ("Lan đã tham gia Thôn 3"): a leading emoji or mark ("📢 CHỈ ĐẠO…", "> ")
    would make that line look like the bot's own header, so it is dropped.
    """
    folded = one_line(text, NAME_LIMIT)
    start = next((i for i, ch in enumerate(folded) if unicodedata.category(ch)[0] in "LN"), len(folded))
    return folded[start:] or "?"


# Also the three separators core.mentions uses to mark a real mention: typed by a user they could forge one.
_UNSTORABLE = re.compile("[\x00\x1d-\x1f\ud800-\udfff]")


def storable(text: str) -> str:
    """Drop NUL and lone surrogates (PostgreSQL refuses them) and the mention-marker separators from chat text."""
    return _UNSTORABLE.sub("", text)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()~>#+\-=|{}.!])")


def escape_markup(text: str, parse_mode: str) -> str:
    """Escape text for a platform parse mode ("Markdown", "MarkdownV2", "HTML"), so it shows as typed.

    The bot's messages are plain text with user text inside: under a parse mode a name like
    `[bấm vào đây](http://…)` would otherwise become a link in the bot's own message.
    """
    mode = parse_mode.lower()
    if mode == "html":
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if mode.startswith("markdown"):
        return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return text


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


# Names repeat ("Thôn 1", a commune's leaders in every reminder of its tasks) and a key costs 0.1-0.5 ms of Python:
# each distinct name's key is computed once per process.
@lru_cache(maxsize=65536)
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
