"""Pure parsing of `/ghi` messages: indicators, quantities, a date and a free-text note (no database).

The grammar cannot lose an item: every `<indicator> <number> [unit]` (or `<number> [unit] <indicator>`) anywhere
in the message is an item, and every other number must be a date, a time, a phone number, a tagged person or sit
in a note phrase with its own noun ("thôn 3", "trong đó 2 người"), or the whole message is refused with the
reason. Only exact counts of one day's finished work become records: ranges, approximate or open-ended numbers,
multi-day totals, plans and additions are refused with the form to send instead (issue 28). Dates come from the
one date grammar (tocns/core/dates.py). The decisions are written down in docs/grammar.md.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from tocns.core.dates import DateError, fmt_date, match_date
from tocns.core.text import bare_character, fold, nfc

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
    "ng",
    "cong dan",
    "bo ho so",
    "thu tuc",
    "tthc",
    "vi",
    "vi dien tu",
    "gh",
    "cua hang",
    "shop",
    "luot cai",
    "lop",
    "dot",
    "hoi nghi",
    "viec",
)
# People counted under another name: "2 cụ", "30 học sinh" are people.
PERSON_NOUNS = frozenset({"cu", "ba con", "hoc sinh", "thanh nien", "doan vien", "hoi vien"})
# Units that count households: never recorded as people (5 households are not 5 people).
HOUSEHOLD_UNITS = frozenset({"ho", "ho dan", "ho gia dinh"})
# Units that are another spelling of an indicator's unit: the receipt needs no remark.
UNIT_SYNONYMS: dict[str, frozenset[str]] = {
    "nguoi": frozenset({"nguoi", "nguoi dan", "ng", "cong dan", "luot nguoi", "truong hop", "ca"}) | PERSON_NOUNS,
    "ho so": frozenset({"ho so", "hs"}),
    "tai khoan": frozenset({"tai khoan", "tk"}),
    "gian hang": frozenset({"gian hang"}),
    "luot": frozenset({"luot", "lan", "luot nguoi"}),
    "buoi": frozenset({"buoi", "cuoc", "lop", "dot", "hoi nghi"}),
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
        "sinh",
        "ns",
        "gio",
        "phut",
        "hotline",
        "zalo",
        "cau",
        "ngach",
        "kp",
        "tdp",
        "nu",
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
        "t",  # "80t": an age
        "con",
    }
)
# Words that may stand between an indicator and its number: "vneid cho 3 người".
LINK_WORDS = frozenset({"cho", "duoc", "la", "them"})
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
        "tren",
        "duoi",
        "hon",
        "tam",
        "chung",
        "ngoai",
        "khi",
        "hoac",
        "hay",
        "roi",
        "sau",
        "truoc",
    ]
)
# Units that only count items (documents, accounts, shops): a number in one is an item, never a note phrase, unless
# the message records an indicator counted in it ("dvc 4 hồ sơ, trong đó 1 hồ sơ bị trả").
ITEM_ONLY_UNITS = frozenset({"ho so", "hs", "bo ho so", "thu tuc", "tthc", "tai khoan", "tk", "gian hang", "gh"})
# Words typed around an indicator's name ("cài ứng dụng", "hướng dẫn", "hỗ trợ", "tạo", "mở"): never a name alone.
AROUND_NAME_WORDS = frozenset(
    {"cai", "dat", "ung", "dung", "app", "cho", "ho", "tro", "huong", "dan", "tao", "mo", "giup", "lam", "nguoi"}
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
    # Unit words accepted for this indicator besides its unit ("hs" for "hồ sơ"); empty: the shared table's.
    unit_synonyms: tuple[str, ...] = ()

    @property
    def unit_words(self) -> frozenset[str]:
        """The folded unit words this indicator is counted in: its unit and the synonyms the catalogue names."""
        own = " ".join(_words(self.unit))
        named = {" ".join(_words(u)) for u in self.unit_synonyms}
        return frozenset({own} | (named or UNIT_SYNONYMS.get(own, frozenset({own}))))


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


class LogParseError(ValueError):
    """The message cannot be recorded; `message` is the Vietnamese reply (with the right form)."""

    def __init__(self, message: str, with_usage: bool = True) -> None:
        text = f"{message}\nChưa có gì được ghi.\n{USAGE}" if with_usage else message
        super().__init__(text)
        self.message = text


_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    """The folded words of an alias or a name, punctuation dropped (the catalogue's texts: remembered)."""
    return tuple(_WORD.findall(fold(text)))


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
            self.units.update(tuple(u.split()) for u in spec.unit_words)
        self.units.update(tuple(u.split()) for u in GENERIC_UNITS)

    def _unit_names(self) -> dict[tuple[str, ...], IndicatorSpec]:
        """Units that name one indicator only ("gian hàng", "tài khoản"): close enough to suggest it."""
        owners: dict[tuple[str, ...], list[IndicatorSpec]] = {}
        for spec in self.specs:
            owners.setdefault(_words(spec.unit), []).append(spec)
        return {words: specs[0] for words, specs in owners.items() if len(specs) == 1 and words}

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
        # Only whole names count: the words around a name ("cài", "hướng dẫn", "ứng dụng") suggest nothing alone.
        query = tuple(w for w in _words(phrase) if w not in AROUND_NAME_WORDS)
        if not query:
            return None
        best: tuple[float, IndicatorSpec] | None = None
        compact = "".join(query)
        for words, spec in [*self.by_words.items(), *self._unit_names().items()]:
            if sum(1 for w in words if w in query) / len(words) < 0.5 and len(words) > 2:
                continue  # a fragment of a long name ("trên" in "gian hàng trên Voso") suggests nothing
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


@dataclass
class _Token:
    kind: str  # phone, time, date, num, word, sep, punct, person, other
    text: str  # folded
    start: int  # offsets in the cleaned text
    end: int


_TOKEN = re.compile(
    # A phone number in any grouping: 0987654321, 0987 654 321, 0987.654.321, +84 987 654 321, 024 3826 1234.
    r"(?P<phone>(?<![0-9])(?:(?:\+84[ .-]?|0)[0-9](?:[ .-]?[0-9]){8,9}"
    r"|1[89]00[ .-]?[0-9]{4}(?:[ .-]?[0-9]{2})?)(?![0-9]))"
    # A time: 8h, 14h30, 9g15, 9g15p, 9:15.
    r"|(?P<time>[0-9]{1,2}(?:[:hg][0-9]{2}(?:ph|p)?|h|g)(?![0-9a-z]))"
    r"|(?P<date>[0-9]{1,2}(?P<dsep>[/.-])[0-9]{1,2}(?:(?P=dsep)(?:[0-9]{4}|[0-9]{2}))?(?![0-9]|[/.,-][0-9]))"
    r"|(?P<num>[-+]?[0-9]+(?:[.,][0-9]+)*(?:e[-+]?[0-9]+)?(?![0-9]))"
    r"|(?P<word>[^\W\d_]+)"
    r"|(?P<sep>[,;\n]+|\.(?=\s|$)|\+|(?<=\s)[-–—](?=\s)|&)"
    r"|(?P<punct>[:=])"
    r"|(?P<other>\S)"
)


def clean(text: str) -> str:
    """NFC text without invisible characters (zero-width spaces, joiners, BOM) and with odd spaces made plain."""
    text = text or ""
    if text.isascii():  # already NFC, and none of those characters is ASCII
        return text.strip()
    text = nfc(text)
    text = "".join(" " if ch in _INVISIBLE_SPACES else ch for ch in text if unicodedata.category(ch) != "Cf")
    return text.strip()


def _fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """Fold text character by character (full-width forms made plain), remembering where each came from."""
    if text.isascii():  # nothing to strip: each character folds to one, its lower case
        return text.lower(), list(range(len(text)))
    out: list[str] = []
    offsets: list[int] = []
    for index, ch in enumerate(text):
        base = _folded_char(ch)
        out.append(base)
        offsets.extend([index] * len(base))
    return "".join(out), offsets


@lru_cache(maxsize=4096)
def _folded_char(ch: str) -> str:
    """What one character folds to in a message (possibly several characters, or none)."""
    # Full-width letters and digits ("５") are read as plain ones (their compatibility forms are plain ASCII);
    # other compatibility forms ("²") are not.
    if 0xFF01 <= ord(ch) <= 0xFF5E:
        return unicodedata.normalize("NFKD", ch).lower()
    return bare_character(ch).lower()


def numbers_in(text: str) -> list[str]:
    """Every run of digits in a message as the parser sees it (for checks that no number is lost)."""
    folded, _ = _fold_with_offsets(clean(text))
    return re.findall(r"[0-9]+", folded)


# Platform tags of people as they arrive in the text: a Zalo OA tag `[@<user id>]` (decimal or hexadecimal), a
# Telegram `@username`, a Zalo Bot Platform `@Tên` (its first word; the rest of the name stays a note word).
TAG = re.compile(r"\[@[^\[\]\s]{1,64}\]|(?<![\w@])@[^\W_][\w.]*(?<![.])")
TAGGED_PERSON = "người được gắn thẻ"


def _tokenize(text: str, people: Sequence[str] = ()) -> list[_Token]:
    """Tokens of the cleaned text; each tag and each span in `people` (a tapped name) is one "person" token."""
    spans: list[tuple[int, int]] = []
    for span in sorted(people, key=len, reverse=True):
        at = text.find(span) if span else -1
        while at >= 0:
            if not any(s < at + len(span) and at < e for s, e in spans):
                spans.append((at, at + len(span)))
            at = text.find(span, at + len(span))
    for match in TAG.finditer(text):
        if not any(s < match.end() and match.start() < e for s, e in spans):
            spans.append((match.start(), match.end()))
    tokens: list[_Token] = []
    pos = 0
    for start, end in [*sorted(spans), (len(text), len(text))]:
        folded, offsets = _fold_with_offsets(text[pos:start])
        for match in _TOKEN.finditer(folded):
            kind = match.lastgroup or "other"
            if kind == "dsep":
                kind = "date"
            tokens.append(_Token(kind, match.group(), pos + offsets[match.start()], pos + offsets[match.end() - 1] + 1))
        if end > start:
            tokens.append(_Token("person", fold(text[start:end]), start, end))
        pos = end
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
    if re.fullmatch(r"[0-9]+[/-][0-9]+", raw):  # "5-6": a range
        raise LogParseError(f"'{typed}' là một khoảng, không phải một số. {EXACT_RULE} Ví dụ: /ghi {spec.code} 5")
    if not raw.lstrip("+").isdigit():  # "2.5", "2,5", "1.000"
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
_DECIMAL_DATE = re.compile(r"^[0-9]{1,2}[./-][0-9]{1,2}$")
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


# ---------------------------------------------------------------- only exact counts of one day's finished work

EXACT_RULE = "Mỗi phiếu ghi việc đã làm xong của một ngày, mỗi chỉ tiêu một số đếm chính xác."
# Words before a number that make it approximate or open-ended ("khoảng 5", "hơn 10", "gần 20", "tầm 6").
APPROX_BEFORE = frozenset(
    {
        ("khoang",),
        ("tam",),
        ("chung",),
        ("gan",),
        ("hon",),
        ("tren",),
        ("duoi",),
        ("ngot",),
        ("uoc",),
        ("xap", "xi"),
        ("sap", "xi"),
        ("uoc", "tinh"),
        ("it", "nhat"),
        ("toi", "thieu"),
        ("toi", "da"),
        ("khong", "qua"),
        ("chua", "toi"),
        ("chua", "den"),
        ("len", "toi"),
        ("len", "den"),
        ("co", "the"),
    }
)
# The same, recognised only as typed with their diacritics (unaccented they are common other words).
APPROX_BEFORE_TYPED = frozenset({"độ", "cỡ", "ước", "tầm", "chừng", "gần", "hơn", "khoảng"})
# Words after a number (or after its unit) that make it open-ended: "20 người trở lên", "10 hơn", "20 mấy".
APPROX_AFTER = frozenset({("tro", "len"), ("hon",), ("may",), ("co", "le"), ("xap", "xi"), ("gi", "do"), ("ngoai",)})
# Between two numbers, these make a range: "5-6", "5 đến 6", "5 tới 6", "5 hoặc 6", "5~6".
RANGE_WORDS = frozenset({"den", "toi", "hoac", "hay", "-", "–", "—", "~", "or"})
# Words that make a message a total over several days ("tổng", "cả tuần", "lũy kế").
TOTAL_PHRASES = frozenset(
    {
        ("tong",),
        ("ca", "tuan"),
        ("ca", "thang"),
        ("ca", "dot"),
        ("suot", "tuan"),
        ("trong", "tuan"),
        ("trong", "thang"),
        ("may", "ngay"),
        ("may", "hom"),
        ("cac", "ngay"),
        ("nhung", "ngay"),
        ("nhieu", "ngay"),
        ("luy", "ke"),
        ("cong", "don"),
        ("tich", "luy"),
        ("den", "nay"),
        ("tinh", "den"),
        ("tu", "dau"),
    }
)
_NOT_TOTAL = frozenset({("tong", "dai"), ("tong", "bien", "tap")})
# A number of days, weeks or months ("3 ngày", "2 tuần"): a total over several days.
_SPAN_NOUNS = frozenset({"ngay", "hom", "tuan", "thang"})
# Words that make a message a plan, not finished work ("sẽ", "dự kiến", "kế hoạch", "tới đây", a bare "mai").
PLAN_PHRASES = frozenset(
    {("du", "kien"), ("ke", "hoach"), ("toi", "day"), ("sap", "toi"), ("du", "dinh"), ("mai",), ("se",)}
)
PLAN_TYPED = frozenset({"sẽ", "sắp", "mốt"})
# Before "Mai" these make it a person's name ("chị Mai"), not "tomorrow".
PERSON_TITLES = frozenset(
    {
        "chi", "co", "ba", "em", "anh", "ong", "ban", "chau", "be", "con", "dc", "thay", "bac", "chu", "di", "cau",
        "mo", "thim", "me", "bo", "nang", "a", "c", "e", "cung", "voi", "va", "nha", "ho", "ten",
    }
)  # fmt: skip
# Around an indicator's name these words never name a second indicator ("cài ứng dụng VNeID", "app VssID").
GENERIC_NAME_WORDS = frozenset(
    {("ung", "dung"), ("app",), ("nen", "tang"), ("phan", "mem"), ("ung", "dung", "so"), ("nen", "tang", "so")}
)


def _several_days(typed: str) -> LogParseError:
    """The refusal of a message that is a total over several days ('typed' is the words that say so)."""
    return LogParseError(
        f"Tin nhắn có '{typed}': đó là tổng của nhiều ngày, không ghi được thành "
        f"một phiếu. {EXACT_RULE} Hãy gửi mỗi ngày một tin, có ngày ở đầu, ví dụ: "
        "/ghi thứ 2 vneid 3, rồi /ghi thứ 3 vneid 4."
    )


class _Reader:
    """One pass over a message's tokens, marking each token's role; refuses at the first thing not understood."""

    def __init__(self, text: str, catalogue: Catalogue, today: date, people: Mapping[str, str] | None = None) -> None:
        self.source = clean(text)
        self.catalogue = catalogue
        self.today = today
        self.people = {clean(k): v for k, v in (people or {}).items() if clean(k)}
        self.tokens = _tokenize(self.source, list(self.people))
        self.words = [t.text for t in self.tokens]
        self.role: list[str | None] = [None] * len(self.tokens)
        self.mentions: list[_Mention] = []
        self.dates: list[tuple[date, str]] = []
        self.unit_of: dict[int, tuple[int, int]] = {}  # number token -> unit token range
        self.note_from: int | None = None

    def _quote_typed(self, message: str, i: int) -> str:
        """Quote the words as the member typed them ('hôm nọ'), not as the grammar folded them ('hom no')."""
        for size in (6, 5, 4, 3, 2, 1):
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
        while i < len(self.tokens):
            i = self._scan_at(i)
        self._merge_mentions()

    def _scan_at(self, i: int) -> int:
        """Mark what starts at token `i` (the first step for its kind that understands it); the next index."""
        for step in _SCAN_STEPS.get(self.tokens[i].kind, ()):
            nxt = step(self, i)
            if nxt is not None:
                return nxt
        return i + 1

    def _scan_kept(self, i: int) -> int | None:
        """A phone number, a time or a tagged person: kept in the note as typed (a person as their name)."""
        self.role[i] = self.tokens[i].kind
        return i + 1

    def _scan_time(self, i: int) -> int | None:
        """A number that starts a time phrase ("8 giờ 15")."""
        return i + 1 if self._time_phrase(i) else None

    def _scan_decimal(self, i: int) -> int | None:
        """A date-shaped token read as a number: right after an indicator ("vneid 2.5", a quantity with a fraction,
        refused below, not the 2nd of May) or before a unit ("5-6 người", a range refused below, not the 5th of
        June)."""
        tok = self.tokens[i]
        if not _DECIMAL_DATE.match(tok.text):
            return None
        prev = self._prev(i)
        if (prev is not None and self.role[prev] == "ind") or self._phrase_at(i + 1, self.catalogue.units, 3):
            tok.kind = "num"
            return i + 1
        return None

    def _scan_house_number(self, i: int) -> int | None:
        """A date-shaped house number after a place word ("nhà số 12/3"), kept in the note."""
        if not self._after_place(i):
            return None
        self.role[i] = "time"
        return i + 1

    def _scan_date(self, i: int) -> int | None:
        """A date from the one date grammar ("hôm qua", "thứ 2", "12/3"); its words are marked and remembered."""
        try:
            hit = match_date(self.words, i, self.today, "past")
        except DateError as exc:
            raise LogParseError(self._quote_typed(str(exc), i)) from None
        if hit is None:
            return None
        for k in range(i, i + hit.size):
            self.role[k] = "date"
        self.dates.append((hit.value, self.typed(i, i + hit.size)))
        return i + hit.size

    def _scan_marker(self, i: int) -> int | None:
        """The note marker ("ghi chú:"): what follows is the note."""
        marker = self._phrase_at(i, set(NOTE_MARKERS), 2)
        if not marker:
            return None
        for k in range(i, i + marker):
            self.role[k] = "marker"
        i += marker
        if i < len(self.tokens) and self.tokens[i].kind == "punct":
            self.role[i] = "marker"
            i += 1
        self.note_from = i if self.note_from is None else self.note_from
        return i

    def _scan_unit(self, i: int) -> int | None:
        """Unit words right after a number ("5 người"), unless they start another phrase or a longer alias."""
        prev = self._prev(i)
        if prev is None or self.tokens[prev].kind != "num" or prev != i - 1:
            return None
        unit = self._phrase_at(i, self.catalogue.units, 3)
        blocked = tuple(self.words[i : i + 2]) in _UNIT_BLOCKERS or (
            self.words[i] in PLACE_WORDS and i + 1 < len(self.tokens) and self.tokens[i + 1].kind == "num"
        )
        alias = self._alias_at(i)
        if not unit or blocked or (alias is not None and alias[1] - i > unit):
            return None
        for k in range(i, i + unit):
            self.role[k] = "unit"
        self.unit_of[prev] = (i, i + unit)
        return i + unit

    def _scan_mention(self, i: int) -> int | None:
        """An indicator's code, alias or name."""
        alias = self._alias_at(i)
        if alias is None:
            return None
        spec, end = alias
        if end + 1 < len(self.tokens) and self.words[end] == "muc" and self.words[end + 1] in ("1", "2"):
            end += 2  # "định danh mức 2": the VNeID level belongs to the indicator, it is not a quantity
        for k in range(i, end):
            self.role[k] = "ind"
        self.mentions.append(_Mention(spec, i, end))
        return end

    def _time_phrase(self, i: int) -> bool:
        """Mark "8 giờ", "9 giờ 15", "9 giờ 15 phút", "9 h" at number `i` as a time; whether it was one."""
        tokens, words = self.tokens, self.words
        if not (i + 1 < len(tokens) and tokens[i + 1].kind == "word" and words[i + 1] in ("gio", "h", "g")):
            return False
        if not tokens[i].text.isdigit() or int(tokens[i].text) > 24:
            return False
        end = i + 2
        if (
            end < len(tokens)
            and tokens[end].kind == "num"
            and tokens[end].text.isdigit()
            and int(tokens[end].text) < 60
        ):
            end += 1
            if end < len(tokens) and words[end] in ("phut", "p"):
                end += 1
        for k in range(i, end):
            self.role[k] = "time"
        return True

    def _drop_generic_mentions(self) -> None:
        """Drop "ứng dụng", "app", "nền tảng" right next to another indicator's name: words around it, not a second
        indicator ("cài ứng dụng VNeID cho 3 người", "app VssID 2")."""
        kept: list[_Mention] = []
        for index, mention in enumerate(self.mentions):
            words = tuple(self.words[mention.start : mention.end])
            if words in GENERIC_NAME_WORDS:
                neighbours = self.mentions[index - 1 : index] + self.mentions[index + 1 : index + 2]
                near = [
                    other
                    for other in neighbours
                    if other.spec.code != mention.spec.code
                    and tuple(self.words[other.start : other.end]) not in GENERIC_NAME_WORDS
                    and all(
                        t.kind == "word" and self.role[k] is None
                        for k, t in enumerate(self.tokens)
                        if min(other.end, mention.end) <= k < max(other.start, mention.start)
                    )
                    and max(other.start, mention.start) - min(other.end, mention.end) <= 2
                ]
                if near:
                    for k in range(mention.start, mention.end):
                        self.role[k] = "verb"
                    continue
            kept.append(mention)
        self.mentions = kept

    def _merge_mentions(self) -> None:
        """Aliases of one indicator next to each other ("thanh toán không dùng tiền mặt") are one mention."""
        self._drop_generic_mentions()
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
            self._pair_after(mention)
        for mention in self.mentions:
            if mention.num is None:
                self._pair_before(mention)
        for mention in self.mentions:
            if mention.num is None and self.note_from is not None and mention.start >= self.note_from:
                mention.in_note = True  # after "ghi chú:" an indicator word without a number is just a word
                for k in range(mention.start, mention.end):
                    self.role[k] = None

    def _link_word(self, k: int) -> bool:
        """Whether free token `k` may stand between an indicator and its number ("cho", "khoảng", "~")."""
        return (
            self.tokens[k].kind in ("word", "other")
            and self.role[k] is None
            and (self.words[k] in LINK_WORDS or self._approx_word(k) or self.words[k] == "~")
        )

    def _pair_after(self, mention: _Mention) -> None:
        """The free number right after a mention, past ':' and up to 3 link words ("vneid cho 3 người")."""
        j = mention.end
        while j < len(self.tokens) and self.tokens[j].kind == "punct":
            j += 1
        k = j
        while k < len(self.tokens) and k - j < 3 and self._link_word(k):
            k += 1
        if k > j and self._free_number(k if k < len(self.tokens) else None):
            for m in range(j, k):
                self.role[m] = "verb"  # "kích hoạt vneid cho 3 người"; "vneid khoảng 5" (refused below)
            j = k
        if self._free_number(j if j < len(self.tokens) else None):
            mention.num = j
            self.role[j] = "num"

    def _verb_before(self, before: int | None) -> tuple[int, int] | None:
        """The free verb ("cài", "kích hoạt") ending at token `before`, as a token range, or None."""
        if before is None:
            return None
        for size in (2, 1):
            start = before - size + 1
            if start <= 0:
                continue
            words = tuple(self.words[start : before + 1])
            kinds = {t.kind for t in self.tokens[start : before + 1]}
            roles = set(self.role[start : before + 1])
            if words in VERBS_BEFORE_INDICATOR and kinds == {"word"} and roles == {None}:
                return start, before + 1
        return None

    def _pair_before(self, mention: _Mention) -> None:
        """The free number right before a mention, past a verb and a unit ("5 người cài vneid")."""
        before = self._prev(mention.start)
        verb = self._verb_before(before)
        if verb is not None:
            before = verb[0] - 1
        if before is not None and self.role[before] == "unit":
            before = next((n for n, (s, e) in self.unit_of.items() if s <= before < e), None)
        if before is not None and self._free_number(before) and not self._after_place(before):
            mention.num = before
            self.role[before] = "num"
            for k in range(*verb) if verb else ():
                self.role[k] = "verb"

    def _typed_lower(self, k: int) -> str:
        return nfc(self.typed(k, k + 1)).lower()

    def _approx_word(self, k: int) -> bool:
        """Whether word `k` is (part of) a word that makes the next number approximate ("khoảng", "xấp xỉ")."""
        if self.tokens[k].kind != "word":
            return False
        if (self.words[k],) in APPROX_BEFORE or self._typed_lower(k) in APPROX_BEFORE_TYPED:
            return True
        pair_next = tuple(self.words[k : k + 2])
        pair_prev = tuple(self.words[k - 1 : k + 1]) if k else ()
        return pair_next in APPROX_BEFORE or pair_prev in APPROX_BEFORE

    def _example(self, spec: IndicatorSpec | None) -> str:
        return f"/ghi {spec.code} 5" if spec else "/ghi vneid 5"

    def _number_end(self, j: int) -> int:
        """The token index right after number `j` and its unit."""
        return self.unit_of[j][1] if j in self.unit_of else j + 1

    def inexact(self, j: int, spec: IndicatorSpec | None = None) -> str | None:
        """Why number `j` is not one exact count (a range, an approximate or open-ended number), or None."""
        example = self._example(spec)
        for check in _INEXACT_CHECKS:
            reason = check(self, j, example)
            if reason:
                return reason
        return None

    def _joined_range(self, j: int, example: str) -> str | None:
        """A range written as one token ("5-6", "5/6")."""
        if not re.fullmatch(r"[0-9]+[/-][0-9]+", self.tokens[j].text):
            return None
        return (
            f"'{self.typed(j, j + 1)}' là một khoảng, không phải một số. {EXACT_RULE} "
            f"Hãy đếm lại rồi ghi đúng một số, ví dụ: {example}"
        )

    def _approx_before(self, j: int, example: str) -> str | None:
        """An approximate word up to 3 free words before the number ("khoảng 5", "hơn 10", "~6")."""
        tokens, words = self.tokens, self.words
        k = j - 1
        while k >= 0 and j - k <= 3 and self.role[k] in (None, "verb") and tokens[k].kind in ("word", "other"):
            if self._approx_word(k) or words[k] == "~":
                start = k - 1 if k >= 1 and (tuple(words[k - 1 : k + 1]) in APPROX_BEFORE) else k
                return (
                    f"'{self.typed(start, j + 1)}' không phải một số chính xác. {EXACT_RULE} "
                    f"Hãy đếm lại rồi ghi đúng số đã làm, ví dụ: {example}"
                )
            k -= 1
        return None

    def _open_plus(self, j: int, example: str) -> str | None:
        """A '+' stuck to the number and followed by no other number ("10+")."""
        tokens = self.tokens
        if not (j + 1 < len(tokens) and tokens[j + 1].text == "+" and tokens[j + 1].start == tokens[j].end):
            return None
        if j + 2 < len(tokens) and tokens[j + 2].start <= tokens[j + 1].end and tokens[j + 2].kind == "num":
            return None  # "3+2": a sum of two numbers, not an open-ended one
        return (
            f"'{self.typed(j, j + 2)}' không phải một số chính xác. {EXACT_RULE} "
            f"Hãy ghi đúng số đã làm, ví dụ: {example}"
        )

    def _approx_after(self, j: int, example: str) -> str | None:
        """An open-ended word after the number or its unit ("20 người trở lên", "10 hơn")."""
        end = self._number_end(j)
        for size in (2, 1):
            after = tuple(self.words[end : end + size])
            if len(after) == size and after in APPROX_AFTER and all(r is None for r in self.role[end : end + size]):
                return (
                    f"'{self.typed(j, end + size)}' không phải một số chính xác. {EXACT_RULE} "
                    f"Hãy ghi đúng số đã làm, ví dụ: {example}"
                )
        return None

    def _spelled_range(self, j: int, example: str) -> str | None:
        """A range word between two numbers ("5 đến 6", "5 hoặc 6 người", "5 ~ 6")."""
        tokens = self.tokens
        for at in {j + 1, self._number_end(j)}:
            if (
                at + 1 < len(tokens)
                and tokens[at].text in RANGE_WORDS
                and self.role[at] in (None, "verb")
                and tokens[at + 1].kind == "num"
                and self.role[at + 1] in (None, "num")
            ):
                return (
                    f"'{self.typed(j, at + 2)}' là một khoảng, không phải một số. {EXACT_RULE} "
                    f"Hãy đếm lại rồi ghi đúng một số, ví dụ: {example}"
                )
        return None

    def check_day_and_plan(self) -> None:
        """Refuse a total over several days and a plan: only one day's finished work is recorded."""
        free = ("word", None), ("word", "verb"), ("word", "unit")
        for k, tok in enumerate(self.tokens):
            if (tok.kind, self.role[k]) not in free:
                continue
            for size in (3, 2, 1):
                if len(self.words[k : k + size]) == size and all(t.kind == "word" for t in self.tokens[k : k + size]):
                    self._refuse_total_or_plan(k, size)
        for j, tok in enumerate(self.tokens):
            if tok.kind == "num":
                self._refuse_day_span(j)

    def _refuse_total_or_plan(self, k: int, size: int) -> None:
        """Refuse the `size` words at `k` when they make the message a total over days or a plan."""
        phrase = tuple(self.words[k : k + size])
        if phrase in TOTAL_PHRASES and tuple(self.words[k : k + 2]) not in _NOT_TOTAL:
            raise _several_days(self.typed(k, k + size))
        if self._plan_at(k, size, phrase):
            raise LogParseError(
                f"'{self.typed(k, k + size)}' là việc sắp làm: /ghi chỉ ghi việc đã làm xong. Khi làm xong, "
                "hãy ghi số đã làm trong ngày, ví dụ: /ghi vneid 8, hoặc hôm sau: /ghi hôm qua vneid 8."
            )

    def _plan_at(self, k: int, size: int, phrase: tuple[str, ...]) -> bool:
        """Whether `phrase` at `k` makes the message a plan ("sẽ", "dự kiến", a bare "mai" meaning tomorrow)."""
        if not (phrase in PLAN_PHRASES or (size == 1 and self._typed_lower(k) in PLAN_TYPED)):
            return False
        if phrase == ("mai",) and not self._tomorrow(k):
            return False  # "chị Mai": a person
        if phrase == ("se",) and self._typed_lower(k) not in ("sẽ", "se"):
            return False  # "sé", "sẻ": another word typed without its accent
        return not self._continues_later(k)

    def _refuse_day_span(self, j: int) -> None:
        """Refuse number `j` when it counts days, weeks or months ("3 ngày", "2 tuần"): a total over several days."""
        tokens = self.tokens
        tok, nxt = tokens[j], j + 1
        if tok.kind != "num" or self.role[j] not in (None, "num") or not tok.text.isdigit():
            return
        if nxt >= len(tokens) or tokens[nxt].kind != "word" or self.role[nxt] is not None:
            return
        noun = self.words[nxt]
        follows = tokens[nxt + 1] if nxt + 1 < len(tokens) else None
        if (
            noun in _SPAN_NOUNS
            and (int(tok.text) >= 2 or noun in ("tuan", "thang"))
            and not (follows is not None and follows.kind in ("num", "date"))
        ):
            raise _several_days(self.typed(j, nxt + 1))

    def _continues_later(self, k: int) -> bool:
        """Whether the plan word at `k` is in a clause after every item that says the work goes on later ("vneid 4,
        hẹn mai làm tiếp"): the items before it are done, the clause is a note."""
        items = [m for m in self.mentions if m.num is not None]
        if not items or any(m.start > k for m in items):
            return False
        last = max(max(m.end, m.num or 0) for m in items)
        if not any(t.kind == "sep" for t in self.tokens[last:k]):
            return False
        clause_end = next((n for n in range(k, len(self.tokens)) if self.tokens[n].kind == "sep"), len(self.tokens))
        return any(self.words[n] in ("tiep", "not") for n in range(k, clause_end))

    def _tomorrow(self, k: int) -> bool:
        """Whether a bare "mai" at `k` means tomorrow, not a person named Mai ("chị Mai", "cùng Mai")."""
        prev = k - 1
        if prev >= 0 and (self.words[prev] in PERSON_TITLES or self.tokens[prev].kind == "person"):
            return False
        typed = self.typed(k, k + 1)
        return not (typed[:1].isupper() and prev >= 0 and self.tokens[prev].kind not in ("sep", "punct"))

    def check_exact(self) -> None:
        """Refuse a quantity that is not one exact count, and an addition ("thêm 2 người nữa") left without its
        indicator: added amounts are never dropped."""
        for mention in self.mentions:
            if mention.num is not None:
                reason = self.inexact(mention.num, mention.spec)
                if reason:
                    raise LogParseError(reason)
        for j, tok in enumerate(self.tokens):
            if tok.kind == "num" and self.role[j] is None:
                self._refuse_addition(j)

    def _addition_span(self, j: int) -> tuple[int, int] | None:
        """The tokens that make free number `j` an added amount ("thêm 2", "được thêm 2", "2 người nữa"), or None."""
        k = j - 1
        while k >= 0 and self.words[k] in ("duoc", "lam") and self.role[k] is None:
            k -= 1
        end = self._number_end(j)
        tail = range(end, min(end + 3, len(self.tokens)))
        more = any(self.words[m] == "nua" and self.role[m] is None for m in tail)
        if not ((k >= 0 and self.words[k] == "them" and self.role[k] is None) or more):
            return None
        return k if self.words[k] == "them" else j, end + (1 if more else 0)

    def _refuse_addition(self, j: int) -> None:
        """Refuse free number `j` when it is an added amount, naming the sum to send when the message has one item
        to add it to."""
        span = self._addition_span(j)
        if span is None:
            return
        before = [m for m in self.mentions if m.num is not None and m.num < j]
        typed = self.typed(*span)
        number = self.tokens[j].text
        if len(before) == 1 and number.isdigit() and self.tokens[before[0].num or 0].text.isdigit():
            spec = before[0].spec
            first = int(self.tokens[before[0].num or 0].text)
            raise LogParseError(
                f"'{typed}' là số làm thêm: mỗi chỉ tiêu ghi một số trong một tin. Nếu đó là thêm {spec.code}, "
                f"hãy cộng lại và gửi: /ghi {spec.code} {first + int(number)} ({first} + {int(number)})."
            )
        raise LogParseError(
            f"'{typed}' là số làm thêm nhưng chưa rõ của chỉ tiêu nào. Hãy cộng vào chỉ tiêu của nó và ghi mỗi "
            "chỉ tiêu một số, ví dụ: /ghi vneid 5 (3 + 2)."
        )

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
            if tok.kind == "num" and self.role[j] is None:
                self._check_free_number(j)

    def _check_free_number(self, j: int) -> None:
        """Let free number `j` stay in the note only when a place word or a noun says what it counts."""
        typed = self.typed(j, j + 1)
        if "e" in self.tokens[j].text:
            raise LogParseError(f"Không đọc được số '{typed}'. Hãy ghi số nguyên bằng chữ số, ví dụ 1000.")
        if self._after_place(j):
            return  # "thôn 3"
        if j in self.unit_of or self._note_noun_after(j):
            self._check_note_phrase(j, typed)
            return  # "trong đó 2 người", "ở 3 thôn"
        if self._house_number(j):
            return  # "ở 123 Trần Phú"
        reason = self.inexact(j)  # a free number in a note phrase may be approximate ("trên 60 tuổi")
        if reason:
            raise LogParseError(reason)
        self._refuse_lost_number(j, typed)

    def _free_word(self, k: int | None) -> bool:
        """Whether token `k` is a word with no role yet."""
        return k is not None and self.tokens[k].kind == "word" and self.role[k] is None

    def _next_index(self, j: int) -> int | None:
        """The index of the token after `j`, or None at the end."""
        return j + 1 if j + 1 < len(self.tokens) else None

    def _note_noun_after(self, j: int) -> bool:
        """Whether number `j` is followed by a noun of a note phrase ("3 thôn", "2 giờ")."""
        nxt = self._next_index(j)
        return nxt is not None and self._free_word(nxt) and self.words[nxt] in NOTE_NOUNS

    def _house_number(self, j: int) -> bool:
        """Whether number `j` is a house number before a street name ("ở 123 Trần Phú")."""
        nxt = self._next_index(j)
        return (
            j >= 1
            and self.words[j - 1] in ("o", "tai", "so")
            and nxt is not None
            and self._free_word(nxt)
            and self.typed(nxt, nxt + 1)[:1].isupper()
        )

    def _check_note_phrase(self, j: int, typed: str) -> None:
        """Refuse a number in a note phrase that is really an item whose name was mistyped: right after words close
        to an indicator's name, or counted in the unit of an indicator the message does not record ("dv cong 1 hồ
        sơ"); such a number is never lost in the note."""
        before = self._free_words(j, -1)
        phrase = self.typed(before[0], before[-1] + 1) if before else ""
        if before and not all(self.words[k] in FUNCTION_WORDS for k in before) and self.catalogue.suggest(phrase):
            raise LogParseError(_unknown_message(phrase, self.catalogue, typed))
        unit = " ".join(self.words[slice(*self.unit_of[j])]) if j in self.unit_of else ""
        owners = [m.spec.code for m in self.mentions if m.num is not None and unit in m.spec.unit_words]
        if unit in ITEM_ONLY_UNITS and not owners:
            raise LogParseError(
                f"Số '{self.typed(j, self.unit_of[j][1])}' chưa rõ thuộc chỉ tiêu nào. Viết chỉ tiêu ngay "
                f"trước số, ví dụ 'dvc {typed}'; gõ /chitieu để xem các chỉ tiêu."
            )

    def _named_words(self, j: int, step: int) -> list[int]:
        """The free words next to token `j` (see _free_words), or none when they are only function words."""
        found = self._free_words(j, step)
        return [] if found and all(self.words[k] in FUNCTION_WORDS for k in found) else found

    def _refuse_lost_number(self, j: int, typed: str) -> None:
        """Refuse free number `j`, which nothing claims, saying why as precisely as the words around it allow."""
        for k in (j - 1, j + 1):
            if 0 <= k < len(self.tokens) and self.tokens[k].kind == "num":
                first, second = sorted((j, k))
                raise LogParseError(
                    f"Hai số {self.typed(first, first + 1)} và {self.typed(second, second + 1)} liền nhau: "
                    "chưa rõ số nào của chỉ tiêu nào."
                )
        words = self._named_words(j, -1) or self._named_words(j, 1)
        if words:
            raise LogParseError(_unknown_message(self.typed(words[0], words[-1] + 1), self.catalogue, typed))
        raise LogParseError(
            f"Số {typed} chưa rõ thuộc chỉ tiêu nào. Viết chỉ tiêu ngay trước số, ví dụ 'vneid {typed}'; "
            "nếu số nằm trong ghi chú, kèm danh từ của nó, ví dụ 'trong đó 2 người', 'ở thôn 3'."
        )

    def _person_name(self, k: int) -> str:
        """How a tagged person shows in the note: the name the platform gave, "@username", never an id."""
        typed = self.typed(k, k + 1)
        if typed in self.people:
            return self.people[typed]
        if typed.startswith("[@"):
            return TAGGED_PERSON
        return typed

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
                start, end = self.tokens[strong[0]].start, self.tokens[strong[-1]].end
                text = self.source[start:end]
                for k in reversed([k for k in strong if self.tokens[k].kind == "person"]):
                    tok = self.tokens[k]
                    text = text[: tok.start - start] + self._person_name(k) + text[tok.end - start :]
                pieces.append(text.strip())
            segment.clear()

        for k in range(len(self.tokens)):
            if self.role[k] in (None, "time", "phone", "person"):
                segment.append(k)
            elif self.role[k] == "unit" and any(
                s <= k < e and self.role[n] is None for n, (s, e) in self.unit_of.items()
            ):
                segment.append(k)  # the noun of a note phrase ("2 người")
            else:
                flush()
        flush()
        return "; ".join(p for p in pieces if p) or None


# The scan's steps for each kind of token, in order: the first that understands the token marks it and says where
# the scan goes on; a token no step understands (or of a kind not listed: separators, punctuation) is left free.
_SCAN_STEPS: dict[str, tuple[Callable[[_Reader, int], int | None], ...]] = {
    "phone": (_Reader._scan_kept,),
    "time": (_Reader._scan_kept,),
    "person": (_Reader._scan_kept,),
    "num": (_Reader._scan_time, _Reader._scan_date),
    "date": (_Reader._scan_decimal, _Reader._scan_house_number, _Reader._scan_date),
    "word": (_Reader._scan_date, _Reader._scan_marker, _Reader._scan_unit, _Reader._scan_mention),
}
# Why a number may not be one exact count, in the order the reply names the first reason found.
_INEXACT_CHECKS: tuple[Callable[[_Reader, int, str], str | None], ...] = (
    _Reader._joined_range,
    _Reader._approx_before,
    _Reader._open_plus,
    _Reader._approx_after,
    _Reader._spelled_range,
)


def parse_log(
    text: str,
    catalogue: Catalogue,
    today: date,
    window_days: int = 31,
    people: Mapping[str, str] | None = None,
) -> ParsedLog:
    """Understand a `/ghi` message or raise LogParseError with a precise Vietnamese reply.

    The date is None when the message names none (the caller decides: today, or the record's date). `people`
    maps the spans the platform marked as people (a tag, a tapped name) to the names the note shows; Zalo OA
    tags `[@id]` and `@username` are people even without it.
    """
    reader = _Reader(text, catalogue, today, people)
    reader.scan()
    reader.pair()
    reader.check_day_and_plan()
    reader.check_exact()
    reader.check_numbers()
    mentions = [m for m in reader.mentions if m.num is not None]
    if not mentions:
        raise _no_item(reader, catalogue)
    distinct = {value for value, _ in reader.dates}
    if len(distinct) > 1:
        typed = " và ".join(f"'{t}'" for _, t in reader.dates)
        raise LogParseError(f"Tin nhắn có hai ngày ({typed}). Mỗi tin chỉ ghi cho một ngày; hãy tách thành nhiều tin.")
    items: list[ParsedItem] = []
    for mention in mentions:
        assert mention.num is not None
        quantity = _quantity(reader.tokens[mention.num], mention.spec, reader.typed(mention.num, mention.num + 1))
        _refuse_twice(mention.spec, items, quantity)
        items.append(_item(reader, mention, quantity))
    activity_date = reader.dates[0][0] if reader.dates else None
    if reader.dates:
        _check_date(reader.dates[0][0], today, window_days, reader.dates[0][1])
    return ParsedLog(items=items, activity_date=activity_date, note=reader.note())


def _no_item(reader: _Reader, catalogue: Catalogue) -> LogParseError:
    """The refusal of a message with no item: the indicator it seems to name, or that it names none."""
    free = [k for k, t in enumerate(reader.tokens) if t.kind == "word" and reader.role[k] is None]
    phrase = reader.typed(free[0], free[-1] + 1) if free and len(free) <= 5 else None
    has_number = any(t.kind == "num" for t in reader.tokens)
    if phrase and (has_number or catalogue.suggest(phrase)):
        return LogParseError(_unknown_message(phrase, catalogue))
    return LogParseError("Chưa có chỉ tiêu nào trong tin nhắn.")


def _refuse_twice(spec: IndicatorSpec, items: list[ParsedItem], quantity: int) -> None:
    """Refuse an indicator written twice in one message, giving the sum to send instead."""
    first = next((item.quantity for item in items if item.code == spec.code), None)
    if first is not None:
        raise LogParseError(
            f"Chỉ tiêu {spec.name} được ghi hai lần trong một tin ({first} và {quantity}). Nếu cả hai đều là việc "
            f"của ngày này, hãy cộng lại thành một số: /ghi {spec.code} {first + quantity} ({first} + {quantity})."
        )


def _item(reader: _Reader, mention: _Mention, quantity: int) -> ParsedItem:
    """The item a paired mention records, or LogParseError when its quantity is too large or its unit is not the
    indicator's."""
    spec = mention.spec
    assert mention.num is not None
    if quantity > spec.max_per_message:
        raise LogParseError(
            f"Số lượng {quantity} cho {spec.name} lớn bất thường (tối đa {spec.max_per_message} {spec.unit} "
            "mỗi tin). Nếu đúng, hãy chia thành nhiều tin hoặc nhờ tổ trưởng xác nhận."
        )
    unit_span = reader.unit_of.get(mention.num)
    typed_unit = reader.typed(*unit_span) if unit_span else None
    typed_key = " ".join(_words(typed_unit)) if typed_unit else None
    if typed_key and typed_key in HOUSEHOLD_UNITS and typed_key not in spec.unit_words:
        raise LogParseError(
            f"Chỉ tiêu {spec.name} tính theo {spec.unit}, không tính theo hộ ('{quantity} {typed_unit}'). "
            f"Hãy ghi số {spec.unit}, ví dụ: /ghi {spec.code} 5 {spec.unit}"
        )
    if typed_key and typed_key not in spec.unit_words:
        raise LogParseError(
            f"Chỉ tiêu {spec.name} ({spec.code}) tính theo {spec.unit}, không tính theo '{typed_unit}' "
            f"('{quantity} {typed_unit}'). Hãy ghi số {spec.unit} đã làm, ví dụ: /ghi {spec.code} 5 {spec.unit}"
        )
    return ParsedItem(spec.code, quantity, typed_unit)


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
        synonyms = entry.get("unit_synonyms", [])
        if not isinstance(synonyms, list):
            raise ValueError(f"mục {index} ({code}): unit_synonyms phải là danh sách")
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
                unit_synonyms=tuple(nfc(str(u)) for u in synonyms),
            )
        )
    return specs


def shipped_unit_synonyms(code: str, unit: str) -> tuple[str, ...]:
    """The unit synonyms the shipped catalogue names for an indicator with this code and unit (none otherwise)."""
    spec = next((s for s in _shipped() if s.code == code), None)
    if spec is None or _words(spec.unit) != _words(unit):
        return ()
    return spec.unit_synonyms


def default_specs() -> list[IndicatorSpec]:
    """The catalogue shipped with the project (tocns/features/activity/data/indicators.json)."""
    return list(_shipped())


@lru_cache(maxsize=1)
def _shipped() -> tuple[IndicatorSpec, ...]:
    text = resources.files("tocns.features.activity.data").joinpath("indicators.json").read_text(encoding="utf-8")
    return tuple(load_specs(json.loads(text)))


def read_specs_file(path: Path) -> list[IndicatorSpec]:
    """Read a catalogue file an operator edited."""
    return load_specs(json.loads(path.read_text(encoding="utf-8")))
