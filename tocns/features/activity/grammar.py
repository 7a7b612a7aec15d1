"""Pure parsing of `/ghi` messages: indicators, quantities, a date and a free-text note (no database).

The grammar cannot lose an item: every `<indicator> <number> [unit]` (or `<number> [unit] <indicator>`) anywhere
in the message is an item, and every other number must sit in a note phrase with its own noun ("thôn 3",
"trong đó 2 người") or the whole message is refused with the reason. Dates come from the shared date grammar
in bot/deadlines.py. The decisions are written down in docs/grammar.md.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from tocns.core.dates import DateError, fmt_date, match_date
from tocns.core.text import fold, nfc

USAGE = (
    "Cách ghi: /ghi [ngày] <chỉ tiêu> <số> [đơn vị], <chỉ tiêu> <số> ... [ghi chú]\n"
    "Ví dụ: /ghi vneid 5, dvc 3 tại nhà văn hóa thôn 3\n"
    "Ví dụ: /ghi hôm qua dinh danh 4 nguoi\n"
    "Gõ /chitieu để xem các chỉ tiêu."
)

# Unit words understood after a number ("5 người", "3 hồ sơ", "2 hộ"), besides each indicator's own unit.
GENERIC_UNITS = (
    "nguoi",
    "nguoi dan",
    "ho so",
    "hs",
    "tai khoan",
    "tk",
    "gian hang",
    "luot",
    "luot nguoi",
    "buoi",
    "ca",
    "truong hop",
    "lan",
    "ho",
    "ho dan",
    "ho gia dinh",
    "cuoc",
    "cu",
    "ba con",
    "hoc sinh",
    "thanh nien",
    "doan vien",
    "hoi vien",
)
# People counted under another name: "2 cụ", "30 học sinh" are people.
PERSON_NOUNS = frozenset({"cu", "ba con", "hoc sinh", "thanh nien", "doan vien", "hoi vien"})
# Units that count households: never recorded as people (5 households are not 5 people).
HOUSEHOLD_UNITS = frozenset({"ho", "ho dan", "ho gia dinh"})
# Units that are another spelling of an indicator's unit: the receipt needs no remark.
UNIT_SYNONYMS: dict[str, frozenset[str]] = {
    "nguoi": frozenset({"nguoi", "nguoi dan", "luot nguoi", "truong hop", "ca"}) | PERSON_NOUNS,
    "ho so": frozenset({"ho so", "hs"}),
    "tai khoan": frozenset({"tai khoan", "tk"}),
    "gian hang": frozenset({"gian hang"}),
    "luot": frozenset({"luot", "lan", "luot nguoi"}),
    "buoi": frozenset({"buoi", "cuoc"}),
}
NOTE_MARKERS = (("ghi", "chu"), ("gc",), ("note",))
# Words that name a place or a group and take a number after them in notes ("thôn 3", "nhà số 12").
PLACE_WORDS = frozenset(
    {
        "thon",
        "ban",
        "ap",
        "xom",
        "to",
        "khu",
        "pho",
        "muc",
        "khom",
        "doi",
        "phum",
        "soc",
        "xa",
        "phuong",
        "nha",
        "so",
        "lop",
        "hem",
        "ngo",
        "kiet",
        "duong",
        "phong",
        "lan",
        "buoi",
        "dot",
        "tuan",
        "thang",
        "nam",
        "khoi",
        "cum",
        "lo",
        "tang",
        "km",
        "quoc lo",
        "tinh lo",
        "luc",
        "sdt",
        "dt",
        "thoai",
        "ma",
        "cccd",
        "cmnd",
        "stk",
    }
)
# Nouns that follow a number in a note phrase ("trong đó 2 người", "ở 3 thôn", "mất 2 giờ").
NOTE_NOUNS = frozenset(
    {
        "thon",
        "ban",
        "ap",
        "xom",
        "to",
        "khu",
        "xa",
        "nha",
        "ho",
        "nguoi",
        "cu",
        "em",
        "chau",
        "ba",
        "ong",
        "chi",
        "anh",
        "co",
        "chu",
        "bac",
        "hoc",
        "sinh",
        "gia",
        "thanh",
        "nien",
        "doan",
        "vien",
        "hoi",
        "dang",
        "can",
        "bo",
        "lan",
        "buoi",
        "gio",
        "tieng",
        "phut",
        "ngay",
        "tuan",
        "thang",
        "nam",
        "km",
        "may",
        "dien",
        "thoai",
        "cai",
        "chiec",
        "diem",
        "lop",
        "truong",
        "hop",
        "ca",
        "luot",
        "dot",
        "trieu",
        "nghin",
        "ngan",
        "dong",
        "tuoi",
        "nu",
        "chien",
        "h",
        "g",
        "con",
    }
)
# Words that may stand between an indicator and its number: "vneid cho 3 người".
LINK_WORDS = frozenset({"cho", "duoc", "la"})
# Verbs that may stand between a number and its indicator: "5 người cài VNeID", "3 hộ mở tài khoản thanh toán".
VERBS_BEFORE_INDICATOR = frozenset(
    {
        ("cai",),
        ("cai", "dat"),
        ("kich", "hoat"),
        ("dang", "ky"),
        ("dang", "ki"),
        ("mo",),
        ("lap",),
        ("tao",),
        ("nop",),
        ("lam",),
        ("su", "dung"),
        ("dung",),
        ("co",),
        ("duoc",),
        ("da",),
    }
)
SUGGEST_WORD_CUTOFF = 0.8
# Words that never name an indicator: a number after them alone is "a number of no indicator".
FUNCTION_WORDS = frozenset(
    [
        "cung",
        "qua",
        "cho",
        "o",
        "tai",
        "voi",
        "la",
        "co",
        "duoc",
        "gan",
        "khoang",
        "tong",
        "them",
        "nua",
        "con",
        "moi",
        "da",
        "va",
        "cua",
        "trong",
        "do",
        "nay",
        "ay",
        "so",
        "luong",
        "sl",
        "tat",
        "ca",
        "den",
        "tu",
        "len",
    ]
)
SUGGEST_WHOLE_CUTOFF = 0.8
SUGGEST_COVERAGE = 0.6
MAX_ALIAS_WORDS = 16
_INVISIBLE_SPACES = "\u00a0\u2007\u202f\u3000"


@dataclass(frozen=True)
class IndicatorSpec:
    """What the parser needs to know about one indicator."""

    code: str
    name: str
    unit: str
    aliases: tuple[str, ...] = ()
    max_per_message: int = 500


@dataclass(frozen=True)
class ParsedItem:
    """One indicator and its quantity as understood from the message; `typed_unit` is the unit word written."""

    code: str
    quantity: int
    typed_unit: str | None = None


@dataclass
class ParsedLog:
    """A whole `/ghi` message as understood: items, the date and the note."""

    items: list[ParsedItem]
    activity_date: date | None
    note: str | None = None
    date_given: bool = False


class LogParseError(ValueError):
    """The message cannot be recorded; `message` is the Vietnamese reply (with the right form)."""

    def __init__(self, message: str, with_usage: bool = True) -> None:
        text = f"{message}\nChưa có gì được ghi.\n{USAGE}" if with_usage else message
        super().__init__(text)
        self.message = text


def _words(text: str) -> tuple[str, ...]:
    """The folded words of an alias or a name, punctuation dropped."""
    return tuple(re.findall(r"[^\W_]+", fold(text)))


def _name_pieces(name: str) -> list[str]:
    """A catalogue name and its parts between ':' and ',' ("Tập huấn, tuyên truyền" gives both halves)."""
    return [name, *(p for p in re.split(r"[:,;]", name) if p.strip())]


@dataclass
class Catalogue:
    """Indicators indexed by the folded words of their codes, aliases and catalogue names."""

    specs: list[IndicatorSpec]
    by_words: dict[tuple[str, ...], IndicatorSpec] = field(default_factory=dict)
    by_compact: dict[str, IndicatorSpec] = field(default_factory=dict)
    units: set[tuple[str, ...]] = field(default_factory=set)
    longest: int = 1

    def __post_init__(self) -> None:
        for spec in self.specs:
            for alias in (spec.code, *spec.aliases, *_name_pieces(spec.name)):
                words = _words(alias)
                if not words:
                    continue
                self.by_words.setdefault(words, spec)
                self.by_compact.setdefault("".join(words), spec)
                self.longest = max(self.longest, min(len(words), MAX_ALIAS_WORDS))
            self.units.add(_words(spec.unit))
        self.units.update(tuple(u.split()) for u in GENERIC_UNITS)

    def get(self, code: str) -> IndicatorSpec | None:
        """The indicator with this code."""
        return next((s for s in self.specs if s.code == code), None)

    def lookup(self, words: Sequence[str]) -> IndicatorSpec | None:
        """The indicator these folded words name exactly (spaced or run together), or None."""
        key = tuple(words)
        return self.by_words.get(key) or self.by_compact.get("".join(key))

    def suggest(self, phrase: str) -> IndicatorSpec | None:
        """The indicator whose whole alias or name is closest to a phrase the user typed, or None.

        Compared word by word after folding: "mo tai khoan" is close to "tài khoản thanh toán" (two of its three
        words), never to "tập huấn" through the fragment "khoan".
        """
        query = _words(phrase)
        if not query:
            return None
        best: tuple[float, IndicatorSpec] | None = None
        compact = "".join(query)
        for words, spec in self.by_words.items():
            whole = difflib.SequenceMatcher(None, compact, "".join(words)).ratio()
            covered = 0.0
            for q in query:
                # Short words must match exactly: "cho" is not "ho", "khoan" is not "huan".
                ratio = max(
                    difflib.SequenceMatcher(None, q, w).ratio() if min(len(q), len(w)) >= 4 else float(q == w)
                    for w in words
                )
                covered += ratio if ratio >= SUGGEST_WORD_CUTOFF else 0.0
            coverage = covered / len(query)
            score = max(
                whole if whole >= SUGGEST_WHOLE_CUTOFF else 0.0, coverage if coverage >= SUGGEST_COVERAGE else 0
            )
            if score and (best is None or score > best[0]):
                best = (score, spec)
        return best[1] if best else None


def unit_remark(unit: str, typed_unit: str | None) -> str | None:
    """A receipt remark when the unit typed is not the indicator's own `unit` (the count is in the indicator's unit)."""
    if not typed_unit:
        return None
    own = " ".join(_words(unit))
    typed = " ".join(_words(typed_unit))
    if typed in UNIT_SYNONYMS.get(own, frozenset({own})):
        return None
    return f"chỉ tiêu tính theo {unit}; bạn ghi '{typed_unit}'"


@dataclass
class _Token:
    kind: str  # time, date, num, word, sep, punct, other
    text: str  # folded
    start: int  # offsets in the cleaned text
    end: int


_TOKEN = re.compile(
    r"(?P<time>[0-9]{1,2}(?:[:h][0-9]{2}|h|g)(?![0-9a-z]))"
    r"|(?P<date>[0-9]{1,2}(?P<dsep>[/.-])[0-9]{1,2}(?:(?P=dsep)(?:[0-9]{4}|[0-9]{2}))?(?![0-9]|[/.,-][0-9]))"
    r"|(?P<num>[-+]?[0-9]+(?:[.,][0-9]+)*(?:e[-+]?[0-9]+)?(?![0-9]))"
    r"|(?P<word>[^\W\d_]+)"
    r"|(?P<sep>[,;\n]+|\.(?=\s|$)|\+|(?<=\s)[-–—](?=\s)|&)"
    r"|(?P<punct>[:=])"
    r"|(?P<other>\S)"
)


def clean(text: str) -> str:
    """NFC text without invisible characters (zero-width spaces, joiners, BOM) and with odd spaces made plain."""
    text = nfc(text or "")
    text = "".join(" " if ch in _INVISIBLE_SPACES else ch for ch in text if unicodedata.category(ch) != "Cf")
    return text.strip()


def _fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """Fold text character by character (full-width forms made plain), remembering where each came from."""
    out: list[str] = []
    offsets: list[int] = []
    for index, ch in enumerate(text):
        # Full-width letters and digits ("５") are read as plain ones; other compatibility forms ("²") are not.
        decomposed = unicodedata.normalize("NFKD" if 0xFF01 <= ord(ch) <= 0xFF5E else "NFD", ch)
        base = "".join(c for c in decomposed if not unicodedata.combining(c))
        base = base.replace("đ", "d").replace("Đ", "D").lower()
        for piece in base:
            out.append(piece)
            offsets.append(index)
    return "".join(out), offsets


def numbers_in(text: str) -> list[str]:
    """Every run of digits in a message as the parser sees it (for checks that no number is lost)."""
    folded, _ = _fold_with_offsets(clean(text))
    return re.findall(r"[0-9]+", folded)


def _tokenize(text: str) -> list[_Token]:
    folded, offsets = _fold_with_offsets(text)
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(folded):
        kind = match.lastgroup or "other"
        if kind == "dsep":
            kind = "date"
        start = offsets[match.start()]
        end = offsets[match.end() - 1] + 1
        tokens.append(_Token(kind, match.group(), start, end))
    return tokens


@dataclass
class _Mention:
    spec: IndicatorSpec
    start: int  # token indexes, end exclusive
    end: int
    num: int | None = None  # the token index of its quantity
    in_note: bool = False


def _quantity(token: _Token, spec: IndicatorSpec, typed: str) -> int:
    raw = token.text
    what = f" cho {spec.name}"
    if "e" in raw:
        raise LogParseError(f"Không đọc được số '{typed}'{what}. Hãy ghi số nguyên bằng chữ số, ví dụ 1000.")
    if raw.startswith("-"):
        raise LogParseError(f"Số lượng{what} không được âm ({typed}). Hãy ghi số nguyên dương, ví dụ 5.")
    if not raw.lstrip("+").isdigit():  # "2.5", "2,5", "1.000", "2-5"
        raise LogParseError(f"Số lượng{what} phải là số nguyên, không có phần lẻ ({typed}). Ví dụ: 5.")
    value = int(raw.lstrip("+"))
    if value == 0:
        raise LogParseError(f"Số lượng{what} phải lớn hơn 0.")
    return value


# A unit word followed by these words is the start of another phrase ("hỗ trợ", "cả thôn"), not a unit.
_UNIT_BLOCKERS = frozenset(
    {
        ("ho", "tro"),
        ("ho", "ten"),
        ("ho", "chieu"),
        ("ho", "khau"),
        ("ca", "nhan"),
        ("ca", "thon"),
        ("ca", "xa"),
        ("ca", "ngay"),
        ("ca", "nha"),
        ("ca", "ho"),
        ("lan", "dau"),
    }
)
_DECIMAL_DATE = re.compile(r"^[0-9]{1,2}[.-][0-9]{1,2}$")
_WEAK_WORDS = frozenset({"va"})


def _unknown_message(phrase: str, catalogue: Catalogue, number: str | None = None) -> str:
    hint = catalogue.suggest(phrase)
    if hint is not None:
        return (
            f"Không có chỉ tiêu '{phrase}'. Có phải bạn muốn ghi '{hint.code}' ({hint.name})? "
            f"Ví dụ: /ghi {hint.code} {number or 5}"
        )
    return f"Không có chỉ tiêu '{phrase}'. Gõ /chitieu để xem các chỉ tiêu và cách gõ."


def _check_date(value: date, today: date, window_days: int, typed: str) -> None:
    if value > today:
        raise LogParseError(
            f"Ngày {fmt_date(value)} chưa tới ('{typed}'; hôm nay là {fmt_date(today)}): chỉ ghi được việc đã làm."
        )
    if (today - value).days > window_days:
        raise LogParseError(
            f"Ngày {fmt_date(value)} ('{typed}') đã quá {window_days} ngày; chỉ ghi được cho {window_days} ngày gần "
            "nhất. Nhờ tổ trưởng nếu cần bổ sung."
        )


def check_date(value: date, today: date, window_days: int) -> None:
    """Reject a future date or one older than the editable window."""
    _check_date(value, today, window_days, fmt_date(value))


class _Reader:
    """One pass over a message's tokens, marking each token's role; refuses at the first thing not understood."""

    def __init__(self, text: str, catalogue: Catalogue, today: date) -> None:
        self.source = clean(text)
        self.catalogue = catalogue
        self.today = today
        self.tokens = _tokenize(self.source)
        self.words = [t.text for t in self.tokens]
        self.role: list[str | None] = [None] * len(self.tokens)
        self.mentions: list[_Mention] = []
        self.dates: list[tuple[date, str]] = []
        self.unit_of: dict[int, tuple[int, int]] = {}  # number token -> unit token range
        self.note_from: int | None = None

    def _quote_typed(self, message: str, i: int) -> str:
        """Quote the words as the member typed them ('hôm nọ'), not as the grammar folded them ('hom no')."""
        for size in (3, 2, 1):
            folded = " ".join(self.words[i : i + size])
            if i + size <= len(self.tokens) and f"'{folded}'" in message:
                return message.replace(f"'{folded}'", f"'{self.typed(i, i + size)}'", 1)
        return message

    def typed(self, start: int, end: int) -> str:
        """The original text of tokens start..end (exclusive)."""
        return self.source[self.tokens[start].start : self.tokens[end - 1].end]

    def _prev(self, i: int) -> int | None:
        """The index of the closest token before `i` that is not ':' or '='."""
        j = i - 1
        while j >= 0 and self.tokens[j].kind == "punct":
            j -= 1
        return j if j >= 0 else None

    def _phrase_at(self, i: int, phrases: set[tuple[str, ...]], longest: int) -> int:
        for size in range(longest, 0, -1):
            window = self.tokens[i : i + size]
            words = tuple(self.words[i : i + size])
            if len(window) == size and all(t.kind == "word" for t in window) and words in phrases:
                return size
        return 0

    def _alias_at(self, i: int) -> tuple[IndicatorSpec, int] | None:
        """The longest alias or name starting at word `i`; ':' and ',' inside a typed name are skipped."""
        positions: list[int] = []
        j = i
        while j < len(self.tokens) and len(positions) < self.catalogue.longest:
            tok = self.tokens[j]
            if tok.kind == "word":
                positions.append(j)
            elif not (tok.kind == "punct" or (tok.kind == "sep" and tok.text.strip() in (",", ""))):
                break
            j += 1
        for size in range(len(positions), 0, -1):
            spec = self.catalogue.lookup([self.words[p] for p in positions[:size]])
            if spec is not None:
                return spec, positions[size - 1] + 1
        return None

    def scan(self) -> None:
        """Mark dates, note markers, indicator mentions and unit words."""
        i = 0
        tokens = self.tokens
        while i < len(tokens):
            tok = tokens[i]
            prev = self._prev(i)
            after_mention = prev is not None and self.role[prev] == "ind"
            if tok.kind == "date" and after_mention and _DECIMAL_DATE.match(tok.text):
                tok.kind = "num"  # "vneid 2.5": a quantity with a fraction, refused below, not the 2nd of May
                i += 1
                continue
            if tok.kind in ("word", "date", "num"):
                try:
                    hit = match_date(self.words, i, self.today, "past")
                except DateError as exc:
                    raise LogParseError(self._quote_typed(str(exc), i)) from None
                if hit is not None:
                    for k in range(i, i + hit.size):
                        self.role[k] = "date"
                    self.dates.append((hit.value, self.typed(i, i + hit.size)))
                    i += hit.size
                    continue
            if tok.kind != "word":
                i += 1
                continue
            marker = self._phrase_at(i, set(NOTE_MARKERS), 2)
            if marker:
                for k in range(i, i + marker):
                    self.role[k] = "marker"
                i += marker
                if i < len(tokens) and tokens[i].kind == "punct":
                    self.role[i] = "marker"
                    i += 1
                self.note_from = i if self.note_from is None else self.note_from
                continue
            if prev is not None and tokens[prev].kind == "num" and prev == i - 1:
                unit = self._phrase_at(i, self.catalogue.units, 3)
                blocked = tuple(self.words[i : i + 2]) in _UNIT_BLOCKERS
                alias = self._alias_at(i)
                if unit and not blocked and (alias is None or alias[1] - i <= unit):
                    for k in range(i, i + unit):
                        self.role[k] = "unit"
                    self.unit_of[prev] = (i, i + unit)
                    i += unit
                    continue
            alias = self._alias_at(i)
            if alias is not None:
                spec, end = alias
                if end + 1 < len(tokens) and self.words[end] == "muc" and self.words[end + 1] in ("1", "2"):
                    end += 2  # "định danh mức 2": the VNeID level belongs to the indicator, it is not a quantity
                for k in range(i, end):
                    self.role[k] = "ind"
                self.mentions.append(_Mention(spec, i, end))
                i = end
                continue
            i += 1
        self._merge_mentions()

    def _merge_mentions(self) -> None:
        """Aliases of one indicator next to each other ("thanh toán không dùng tiền mặt") are one mention."""
        merged: list[_Mention] = []
        for mention in self.mentions:
            last = merged[-1] if merged else None
            between = self.tokens[last.end : mention.start] if last else []
            if (
                last is not None
                and last.spec.code == mention.spec.code
                and all(t.kind in ("punct", "sep") for t in between)
            ):
                for k in range(last.end, mention.start):
                    self.role[k] = "ind"
                last.end = mention.end
                continue
            merged.append(mention)
        self.mentions = merged

    def _free_number(self, j: int | None) -> bool:
        return j is not None and self.tokens[j].kind == "num" and self.role[j] is None

    def _after_place(self, j: int) -> bool:
        """Whether number `j` follows a place word ("thôn 3", "nhà số 12", "quốc lộ 6")."""
        k = j - 1
        if k < 0 or self.tokens[k].kind != "word" or self.role[k] not in (None, "note"):
            return False
        if self.words[k] in PLACE_WORDS:
            return True
        return k >= 1 and f"{self.words[k - 1]} {self.words[k]}" in PLACE_WORDS

    def pair(self) -> None:
        """Give each mention its number: the one right after it, else the one right before it ("5 vneid")."""
        for mention in self.mentions:
            j = mention.end
            while j < len(self.tokens) and self.tokens[j].kind == "punct":
                j += 1
            if (
                j + 1 < len(self.tokens)
                and self.words[j] in LINK_WORDS
                and self.role[j] is None
                and self._free_number(j + 1)
            ):
                self.role[j] = "verb"  # "kích hoạt vneid cho 3 người"
                j += 1
            if self._free_number(j if j < len(self.tokens) else None):
                mention.num = j
                self.role[j] = "num"
        for mention in self.mentions:
            if mention.num is not None:
                continue
            before = self._prev(mention.start)
            for size in (2, 1):
                if before is not None and before - size + 1 > 0:
                    words = tuple(self.words[before - size + 1 : before + 1])
                    kinds = {t.kind for t in self.tokens[before - size + 1 : before + 1]}
                    roles = set(self.role[before - size + 1 : before + 1])
                    if words in VERBS_BEFORE_INDICATOR and kinds == {"word"} and roles == {None}:
                        verb = (before - size + 1, before + 1)
                        before -= size
                        break
            else:
                verb = None
            if before is not None and self.role[before] == "unit":
                before = next((n for n, (s, e) in self.unit_of.items() if s <= before < e), None)
            if before is not None and self._free_number(before) and not self._after_place(before):
                mention.num = before
                self.role[before] = "num"
                for k in range(*verb) if verb else ():
                    self.role[k] = "verb"
        for mention in self.mentions:
            if mention.num is None and self.note_from is not None and mention.start >= self.note_from:
                mention.in_note = True  # after "ghi chú:" an indicator word without a number is just a word
                for k in range(mention.start, mention.end):
                    self.role[k] = None

    def check_numbers(self) -> None:
        """Refuse a mention without a number, and a number that belongs to no mention and no note phrase."""
        for mention in self.mentions:
            if mention.num is None and not mention.in_note:
                typed = self.typed(mention.start, mention.end)
                raise LogParseError(
                    f"Thiếu số lượng cho {mention.spec.name} ({mention.spec.code}): '{typed}' chưa có số đi kèm. "
                    "Nếu đó là ghi chú, hãy viết sau chữ 'ghi chú:'."
                )
        for j, tok in enumerate(self.tokens):
            if tok.kind != "num" or self.role[j] is not None:
                continue
            typed = self.typed(j, j + 1)
            if "e" in tok.text:
                raise LogParseError(f"Không đọc được số '{typed}'. Hãy ghi số nguyên bằng chữ số, ví dụ 1000.")
            nxt = j + 1 if j + 1 < len(self.tokens) else None
            if self._after_place(j):
                continue
            if j in self.unit_of:
                continue  # "trong đó 2 người"
            if (
                nxt is not None
                and self.tokens[nxt].kind == "word"
                and self.role[nxt] is None
                and self.words[nxt] in NOTE_NOUNS
            ):
                continue  # "ở 3 thôn"
            for k in (j - 1, j + 1):
                if 0 <= k < len(self.tokens) and self.tokens[k].kind == "num":
                    first, second = sorted((j, k))
                    raise LogParseError(
                        f"Hai số {self.typed(first, first + 1)} và {self.typed(second, second + 1)} liền nhau: "
                        "chưa rõ số nào của chỉ tiêu nào."
                    )
            before = self._free_words(j, -1)
            if before and all(self.words[k] in FUNCTION_WORDS for k in before):
                before = []
            after = self._free_words(j, 1)
            if after and all(self.words[k] in FUNCTION_WORDS for k in after):
                after = []
            if before:
                raise LogParseError(_unknown_message(self.typed(before[0], before[-1] + 1), self.catalogue, typed))
            if after:
                raise LogParseError(_unknown_message(self.typed(after[0], after[-1] + 1), self.catalogue, typed))
            raise LogParseError(
                f"Số {typed} chưa rõ thuộc chỉ tiêu nào. Viết chỉ tiêu ngay trước số, ví dụ 'vneid {typed}'; "
                "nếu số nằm trong ghi chú, kèm danh từ của nó, ví dụ 'trong đó 2 người', 'ở thôn 3'."
            )

    def _free_words(self, j: int, step: int) -> list[int]:
        """Up to 5 free words right before (step -1) or after (step 1) token `j`, in text order."""
        found: list[int] = []
        k = j + step
        while 0 <= k < len(self.tokens) and len(found) < 5:
            if self.tokens[k].kind == "punct":
                k += step
                continue
            if self.tokens[k].kind != "word" or self.role[k] is not None or self.words[k] in _WEAK_WORDS:
                break
            found.append(k)
            k += step
        return sorted(found)

    def note(self) -> str | None:
        """The text left once items, units, dates and markers are taken out, pieces joined with '; '."""
        pieces: list[str] = []
        segment: list[int] = []

        def flush() -> None:
            strong = [
                k for k in segment if self.tokens[k].kind not in ("sep", "punct") and self.words[k] not in _WEAK_WORDS
            ]
            if strong:
                pieces.append(self.source[self.tokens[strong[0]].start : self.tokens[strong[-1]].end].strip())
            segment.clear()

        for k in range(len(self.tokens)):
            if self.role[k] is None:
                segment.append(k)
            elif self.role[k] == "unit" and any(
                s <= k < e and self.role[n] is None for n, (s, e) in self.unit_of.items()
            ):
                segment.append(k)  # the noun of a note phrase ("2 người")
            else:
                flush()
        flush()
        return "; ".join(p for p in pieces if p) or None


def parse_log(
    text: str,
    catalogue: Catalogue,
    today: date,
    window_days: int = 31,
) -> ParsedLog:
    """Understand a `/ghi` message or raise LogParseError with a precise Vietnamese reply.

    The date is None when the message names none (the caller decides: today, or the record's date).
    """
    reader = _Reader(text, catalogue, today)
    reader.scan()
    reader.pair()
    reader.check_numbers()
    mentions = [m for m in reader.mentions if m.num is not None]
    if not mentions:
        free = [k for k, t in enumerate(reader.tokens) if t.kind == "word" and reader.role[k] is None]
        phrase = reader.typed(free[0], free[-1] + 1) if free and len(free) <= 5 else None
        has_number = any(t.kind == "num" for t in reader.tokens)
        if phrase and (has_number or catalogue.suggest(phrase)):
            raise LogParseError(_unknown_message(phrase, catalogue))
        raise LogParseError("Chưa có chỉ tiêu nào trong tin nhắn.")
    distinct = {value for value, _ in reader.dates}
    if len(distinct) > 1:
        typed = " và ".join(f"'{t}'" for _, t in reader.dates)
        raise LogParseError(f"Tin nhắn có hai ngày ({typed}). Mỗi tin chỉ ghi cho một ngày; hãy tách thành nhiều tin.")
    items: list[ParsedItem] = []
    seen: set[str] = set()
    for mention in mentions:
        spec = mention.spec
        assert mention.num is not None
        if spec.code in seen:
            raise LogParseError(f"Chỉ tiêu {spec.name} được ghi hai lần trong một tin; hãy cộng lại thành một số.")
        seen.add(spec.code)
        quantity = _quantity(reader.tokens[mention.num], spec, reader.typed(mention.num, mention.num + 1))
        if quantity > spec.max_per_message:
            raise LogParseError(
                f"Số lượng {quantity} cho {spec.name} lớn bất thường (tối đa {spec.max_per_message} {spec.unit} "
                "mỗi tin). Nếu đúng, hãy chia thành nhiều tin hoặc nhờ tổ trưởng xác nhận."
            )
        unit_span = reader.unit_of.get(mention.num)
        typed_unit = reader.typed(*unit_span) if unit_span else None
        if (
            typed_unit
            and " ".join(_words(typed_unit)) in HOUSEHOLD_UNITS
            and " ".join(_words(spec.unit)) not in HOUSEHOLD_UNITS
        ):
            raise LogParseError(
                f"Chỉ tiêu {spec.name} tính theo {spec.unit}, không tính theo hộ ('{quantity} {typed_unit}'). "
                f"Hãy ghi số {spec.unit}, ví dụ: /ghi {spec.code} {quantity}"
            )
        items.append(ParsedItem(spec.code, quantity, typed_unit))
    activity_date = reader.dates[0][0] if reader.dates else None
    if reader.dates:
        _check_date(reader.dates[0][0], today, window_days, reader.dates[0][1])
    return ParsedLog(items=items, activity_date=activity_date, note=reader.note(), date_given=activity_date is not None)


def load_specs(data: Any) -> list[IndicatorSpec]:
    """Validate a catalogue (a list of objects) read from JSON; raise ValueError with a clear message."""
    if not isinstance(data, list) or not data:
        raise ValueError("tệp chỉ tiêu phải là một danh sách JSON không rỗng")
    specs: list[IndicatorSpec] = []
    codes: set[str] = set()
    for index, entry in enumerate(data, start=1):
        if not isinstance(entry, dict):
            raise ValueError(f"mục {index} không phải một đối tượng JSON")
        missing = [k for k in ("code", "name", "unit") if not str(entry.get(k, "")).strip()]
        if missing:
            raise ValueError(f"mục {index} thiếu {', '.join(missing)}")
        code = fold(str(entry["code"])).replace(" ", "")
        if code in codes:
            raise ValueError(f"mã chỉ tiêu {code!r} bị lặp")
        codes.add(code)
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list):
            raise ValueError(f"mục {index} ({code}): aliases phải là danh sách")
        cap = entry.get("max_per_message", 500)
        if not isinstance(cap, int) or cap <= 0:
            raise ValueError(f"mục {index} ({code}): max_per_message phải là số nguyên dương")
        specs.append(
            IndicatorSpec(
                code=code,
                name=nfc(str(entry["name"]).strip()),
                unit=nfc(str(entry["unit"]).strip()),
                aliases=tuple(nfc(str(a)) for a in aliases),
                max_per_message=cap,
            )
        )
    return specs


def default_specs() -> list[IndicatorSpec]:
    """The catalogue shipped with the project (tocns/features/activity/data/indicators.json)."""
    text = resources.files("tocns.features.activity.data").joinpath("indicators.json").read_text(encoding="utf-8")
    return load_specs(json.loads(text))


def read_specs_file(path: Path) -> list[IndicatorSpec]:
    """Read a catalogue file an operator edited."""
    return load_specs(json.loads(path.read_text(encoding="utf-8")))
