"""Pure parsing of `/ghi` messages: indicators, quantities, a date and a free-text note (no database)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from tocns.core.dates import fmt_date
from tocns.core.text import closest, fold, nfc

USAGE = (
    "Cách ghi: /ghi [ngày] <chỉ tiêu> <số> [đơn vị], <chỉ tiêu> <số> ... [ghi chú]\n"
    "Ví dụ: /ghi vneid 5, dvc 3 tại nhà văn hóa thôn 3\n"
    "Ví dụ: /ghi hôm qua dinh danh 4 nguoi\n"
    "Gõ /chitieu để xem các chỉ tiêu."
)

# Words that name a unit; skipped after a number ("5 người", "3 hồ sơ").
GENERIC_UNITS = ("nguoi", "ho so", "hs", "tai khoan", "tk", "gian hang", "luot", "buoi", "ca", "truong hop", "lan")
NOTE_MARKERS = ("ghi chu", "gc", "note")
FILLERS = ("ngay",)
RELATIVE_DAYS = {"hom nay": 0, "hom qua": 1, "hom kia": 2}
MAX_WORDS_IN_ALIAS = 5


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
    """One indicator and its quantity as understood from the message."""

    code: str
    quantity: int


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


@dataclass
class _Token:
    kind: str  # date, num, word, sep, punct, other
    text: str  # folded
    start: int  # offsets in the original (NFC) text
    end: int


@dataclass
class Catalogue:
    """Indicators indexed by their folded aliases."""

    specs: list[IndicatorSpec]
    by_alias: dict[str, IndicatorSpec] = field(default_factory=dict)
    units: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for spec in self.specs:
            for alias in (spec.code, *spec.aliases):
                key = fold(alias)
                self.by_alias.setdefault(key, spec)
                self.by_alias.setdefault(key.replace(" ", ""), spec)
            self.units.add(fold(spec.unit))
        self.units.update(GENERIC_UNITS)

    def get(self, code: str) -> IndicatorSpec | None:
        """The indicator with this code."""
        return next((s for s in self.specs if s.code == code), None)

    def suggest(self, word: str, cutoff: float = 0.6) -> IndicatorSpec | None:
        """The indicator whose alias is closest to a mistyped word."""
        if fold(word) in PLACE_WORDS:
            return None
        hits = closest(word, list(self.by_alias), limit=1, cutoff=cutoff)
        return self.by_alias[hits[0]] if hits else None


# Words for places and groups that are followed by a number in notes ("thôn 3", "tổ 5"): never an indicator.
PLACE_WORDS = frozenset(
    {
        "thon",
        "ban",
        "ap",
        "xom",
        "to",
        "khu",
        "khom",
        "doi",
        "phum",
        "soc",
        "xa",
        "phuong",
        "nha",
        "ho",
        "so",
        "lop",
        "hem",
        "ngo",
        "kiet",
        "duong",
        "lan",
        "buoi",
        "tuan",
        "thang",
        "ngay",
        "nam",
    }
)
NOTE_CUTOFF = 0.75


_TOKEN = re.compile(
    r"(?P<date>[0-9]{1,2}/[0-9]{1,2}(?:/[0-9]{2,4})?(?![0-9/])|[0-9]{1,2}-[0-9]{1,2}-[0-9]{4}(?![0-9]))"
    r"|(?P<num>[-+]?[0-9]+(?:[.,][0-9]+)*)"
    r"|(?P<word>[^\W\d_]+)"
    r"|(?P<sep>[,;\n]+)"
    r"|(?P<punct>[:=])"
    r"|(?P<other>\S)"
)


def _fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """Fold text character by character, remembering where each folded character came from."""
    out: list[str] = []
    offsets: list[int] = []
    for index, ch in enumerate(text):
        base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        base = base.replace("đ", "d").replace("Đ", "D").lower()
        for piece in base:
            out.append(piece)
            offsets.append(index)
    return "".join(out), offsets


def _tokenize(text: str) -> list[_Token]:
    folded, offsets = _fold_with_offsets(text)
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(folded):
        kind = match.lastgroup or "other"
        start = offsets[match.start()]
        end = offsets[match.end() - 1] + 1
        tokens.append(_Token(kind, match.group(), start, end))
    return tokens


def _words_at(tokens: Sequence[_Token], index: int, size: int) -> str | None:
    window = tokens[index : index + size]
    if len(window) < size or any(t.kind != "word" for t in window):
        return None
    return " ".join(t.text for t in window)


def _match_phrase(tokens: Sequence[_Token], index: int, phrases: Iterable[str]) -> int:
    """The number of word tokens at `index` forming one of `phrases` (longest first), or 0."""
    wanted = set(phrases)
    for size in range(MAX_WORDS_IN_ALIAS, 0, -1):
        words = _words_at(tokens, index, size)
        if words is not None and (words in wanted or words.replace(" ", "") in wanted):
            return size
    return 0


def _match_alias(catalogue: Catalogue, tokens: Sequence[_Token], index: int) -> tuple[IndicatorSpec, int] | None:
    for size in range(MAX_WORDS_IN_ALIAS, 0, -1):
        words = _words_at(tokens, index, size)
        if words is None:
            continue
        spec = catalogue.by_alias.get(words) or catalogue.by_alias.get(words.replace(" ", ""))
        if spec is not None:
            return spec, size
    return None



def _read_date(token: _Token, today: date) -> date:
    parts = [int(p) for p in re.split(r"[/-]", token.text)]
    day, month = parts[0], parts[1]
    year = parts[2] if len(parts) > 2 else today.year
    if len(parts) > 2 and year < 100:
        year += 2000
    try:
        value = date(year, month, day)
    except ValueError:
        raise LogParseError(f"Ngày {token.text} không có thật. Viết ngày dạng dd/mm hoặc dd/mm/yyyy.") from None
    if len(parts) == 2 and (value - today).days > 180:
        # "31/12" typed on 2 January means last year's 31 December.
        value = value.replace(year=year - 1)
    return value


def _quantity(token: _Token, spec: IndicatorSpec | None) -> int:
    raw = token.text
    what = f" cho {spec.name}" if spec else ""
    if raw.startswith("-"):
        raise LogParseError(f"Số lượng{what} không được âm ({raw}). Hãy ghi số nguyên dương, ví dụ 5.")
    if "." in raw or "," in raw:
        raise LogParseError(f"Số lượng{what} phải là số nguyên, không có phần lẻ ({raw}). Ví dụ: 5.")
    value = int(raw.lstrip("+"))
    if value == 0:
        raise LogParseError(f"Số lượng{what} phải lớn hơn 0.")
    return value


def _unknown_message(word: str, catalogue: Catalogue) -> str:
    hint = catalogue.suggest(word)
    suggestion = f" Có phải bạn muốn ghi '{hint.code}' ({hint.name})?" if hint else ""
    return f"Không có chỉ tiêu '{word}'.{suggestion}"


def parse_log(
    text: str,
    catalogue: Catalogue,
    today: date,
    window_days: int = 31,
) -> ParsedLog:
    """Understand a `/ghi` message or raise LogParseError with a precise Vietnamese reply.

    The date is None when the message names none (the caller decides: today, or the record's date).
    """
    source = nfc(text or "").strip()
    tokens = _tokenize(source)
    items: list[tuple[IndicatorSpec, _Token]] = []
    pending_spec: IndicatorSpec | None = None
    pending_num: _Token | None = None
    after_number = False
    unknown: list[str] = []
    activity_date: date | None = None
    note: str | None = None
    i = 0

    def close_segment() -> None:
        nonlocal pending_spec, pending_num
        if pending_spec is not None:
            raise LogParseError(f"Thiếu số lượng cho {pending_spec.name} ({pending_spec.code}).")
        if pending_num is not None:
            if unknown:
                raise LogParseError(_unknown_message(unknown[-1], catalogue))
            raise LogParseError(f"Số {pending_num.text} chưa rõ thuộc chỉ tiêu nào.")

    def add(spec: IndicatorSpec, num: _Token) -> None:
        items.append((spec, num))
        unknown.clear()

    while i < len(tokens):
        tok = tokens[i]
        idle = pending_spec is None and pending_num is None
        if tok.kind == "date":
            if activity_date is not None:
                raise LogParseError("Mỗi tin chỉ ghi cho một ngày; hãy tách thành nhiều tin.")
            activity_date = _read_date(tok, today)
            after_number = False
            i += 1
            continue
        if tok.kind == "num":
            if pending_spec is not None:
                add(pending_spec, tok)
                pending_spec = None
            elif pending_num is not None:
                raise LogParseError(
                    f"Hai số {pending_num.text} và {tok.text} liền nhau: chưa rõ số nào của chỉ tiêu nào."
                )
            else:
                pending_num = tok
            after_number = True
            i += 1
            continue
        if tok.kind == "sep":
            close_segment()
            after_number = False
            i += 1
            continue
        if tok.kind == "punct":
            i += 1
            continue
        if tok.kind == "other":
            if items and idle:
                note = source[tok.start :].strip()
                break
            i += 1
            continue
        # A word.
        marker = _match_phrase(tokens, i, NOTE_MARKERS)
        if marker and idle:
            rest = i + marker
            if rest < len(tokens) and tokens[rest].kind == "punct":
                rest += 1
            note = source[tokens[rest].start :].strip() if rest < len(tokens) else ""
            break
        relative = _match_phrase(tokens, i, RELATIVE_DAYS)
        if relative:
            if activity_date is not None:
                raise LogParseError("Mỗi tin chỉ ghi cho một ngày; hãy tách thành nhiều tin.")
            phrase = " ".join(t.text for t in tokens[i : i + relative])
            activity_date = today - timedelta(days=RELATIVE_DAYS[phrase])
            i += relative
            continue
        if after_number:
            unit_words = _match_phrase(tokens, i, catalogue.units)
            if unit_words:
                i += unit_words
                after_number = False
                continue
        after_number = False
        hit = _match_alias(catalogue, tokens, i)
        if hit is not None:
            spec, size = hit
            if pending_num is not None:
                add(spec, pending_num)
                pending_num = None
            elif pending_spec is not None:
                raise LogParseError(f"Thiếu số lượng cho {pending_spec.name} ({pending_spec.code}).")
            else:
                pending_spec = spec
            i += size
            continue
        if tok.text == "va":
            close_segment()
            i += 1
            continue
        if tok.text in FILLERS:
            i += 1
            continue
        if items and idle:
            following = tokens[i + 1] if i + 1 < len(tokens) else None
            # Only a near-miss of an alias is refused; "thon 3", "ap 2" after the items start the note.
            if following is not None and following.kind == "num" and catalogue.suggest(tok.text, NOTE_CUTOFF):
                raise LogParseError(_unknown_message(tok.text, catalogue))
            note = source[tok.start :].strip()
            break
        unknown.append(tok.text)
        i += 1

    close_segment()
    if not items:
        close = [w for w in unknown if catalogue.suggest(w)]
        if close:
            raise LogParseError(_unknown_message(close[0], catalogue))
        raise LogParseError("Chưa có chỉ tiêu nào trong tin nhắn.")
    parsed: list[ParsedItem] = []
    seen: set[str] = set()
    for spec, num in items:
        if spec.code in seen:
            raise LogParseError(f"Chỉ tiêu {spec.name} được ghi hai lần trong một tin; hãy cộng lại thành một số.")
        seen.add(spec.code)
        quantity = _quantity(num, spec)
        if quantity > spec.max_per_message:
            raise LogParseError(
                f"Số lượng {quantity} cho {spec.name} lớn bất thường (tối đa {spec.max_per_message} {spec.unit} "
                "mỗi tin). Nếu đúng, hãy chia thành nhiều tin hoặc nhờ tổ trưởng xác nhận."
            )
        parsed.append(ParsedItem(spec.code, quantity))
    if activity_date is not None:
        check_date(activity_date, today, window_days)
    return ParsedLog(items=parsed, activity_date=activity_date, note=note or None, date_given=activity_date is not None)


def check_date(value: date, today: date, window_days: int) -> None:
    """Reject a future date or one older than the editable window."""
    if value > today:
        raise LogParseError(f"Ngày {fmt_date(value)} chưa tới (hôm nay là {fmt_date(today)}).")
    if (today - value).days > window_days:
        raise LogParseError(
            f"Ngày {fmt_date(value)} đã quá {window_days} ngày; chỉ ghi được cho {window_days} ngày gần nhất. "
            "Nhờ tổ trưởng nếu cần bổ sung."
        )


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
