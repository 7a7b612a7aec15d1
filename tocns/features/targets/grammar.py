"""Pure reading of `/muctieu` (no database): year, optional month, optional unit, indicator, value, split.

/muctieu 2027 vneid 1200
/muctieu 2027 tổ Thôn 3 vneid 150
/muctieu 2027 xã Tân Lập vneid 1200 chia đều        (or: chia theo hộ)
/muctieu 2027 vneid chia theo hộ                      (split the target already set)
/muctieu 2027 tháng 3 vneid 100
/muctieu 2027 thanhtoan 50% hộ                        (a share of the unit's households)
/muctieu 2027 vneid 0                                  (remove the target)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tocns.core.text import fold, grouped
from tocns.features.activity.grammar import Catalogue

MAX_TARGET = 5_000_000
"""The largest target accepted: more than a province's adults is a typing mistake, not a plan."""
MAX_YEARS_AHEAD = 5
USAGE = (
    "/muctieu [năm] [tháng N] [tổ <tên> | xã <tên>] <chỉ tiêu> <số> [chia đều | chia theo hộ]\n"
    "Ví dụ: /muctieu 2027 vneid 1200 · /muctieu 2027 tổ Thôn 3 vneid 150 · "
    "/muctieu 2027 vneid 1200 chia theo hộ · /muctieu 2027 thanhtoan 50% hộ · /muctieu (xem mục tiêu)"
)
UNIT_WORDS = {"to": "team", "xa": "commune", "phuong": "commune"}
SPLITS = {("chia", "deu"): "even", ("chia", "theo", "ho"): "households", ("chia", "theo", "so", "ho"): "households"}
SHARES = {("ho",): "households", ("nguoi", "lon"): "adults", ("nguoi", "truong", "thanh"): "adults"}
SHARE_LABELS = {"households": "hộ", "adults": "người trưởng thành"}
_NUMBER = re.compile(r"^[+-]?[0-9]{1,3}(?:[.,][0-9]{3})+$|^[+-]?[0-9]+$")
_PERCENT = re.compile(r"^([0-9]{1,3})%$")


class TargetParseError(ValueError):
    """The `/muctieu` text cannot be read; the message is the Vietnamese reason with the right form."""


@dataclass(frozen=True)
class TargetSpec:
    """A `/muctieu` as typed: which unit, indicator, year (and month), how much, and whether to split it."""

    year: int
    month: int  # 0: the whole year
    level: str | None  # "team" or "commune" when a unit is named; None: the chat's own unit
    unit_name: str
    indicator: str  # the indicator's code
    value: int | None  # None: a share (share_percent) or a split of the target already set
    share_of: str | None = None
    share_percent: int | None = None
    split: str | None = None  # "even" or "households"


def _number(word: str) -> int | None:
    if not _NUMBER.match(word):
        return None
    return int(word.replace(".", "").replace(",", ""))


def _strip_suffix(folded: list[str], table: dict[tuple[str, ...], str]) -> tuple[str | None, int]:
    for words, value in sorted(table.items(), key=lambda kv: -len(kv[0])):
        if len(folded) >= len(words) and tuple(folded[-len(words) :]) == words:
            return value, len(words)
    return None, 0


def _refuse(reason: str) -> TargetParseError:
    return TargetParseError(f"{reason}\nChưa có gì được lưu.\nCách dùng: {USAGE}")


@dataclass
class _Words:
    """The words of a `/muctieu` still to read, as typed and folded; each step takes some from the front or back."""

    typed: list[str]
    folded: list[str]

    def drop_front(self, count: int) -> None:
        """Forget the first `count` words."""
        self.typed, self.folded = self.typed[count:], self.folded[count:]

    def drop_back(self, count: int) -> None:
        """Forget the last `count` words."""
        self.typed, self.folded = self.typed[:-count], self.folded[:-count]


def _read_year(words: _Words, this_year: int) -> int:
    """`[năm] 2027` at the front (default: this year), refused when past or too far ahead."""
    year = this_year
    if words.folded[0] == "nam" and len(words.folded) > 1 and words.folded[1].isdigit():
        words.drop_front(1)
    if re.fullmatch(r"[0-9]{4}", words.folded[0]):
        year = int(words.folded[0])
        words.drop_front(1)
    if year < this_year:
        raise _refuse(f"Năm {year} đã qua: chỉ đặt mục tiêu cho năm nay ({this_year}) hoặc các năm tới.")
    if year > this_year + MAX_YEARS_AHEAD:
        raise _refuse(f"Năm {year} quá xa: đặt mục tiêu tối đa {MAX_YEARS_AHEAD} năm tới.")
    return year


def _read_month(words: _Words) -> int:
    """`tháng N` at the front: the month, or 0 for the whole year."""
    if len(words.folded) < 2 or words.folded[0] != "thang":
        return 0
    if not words.folded[1].isdigit() or not 1 <= int(words.folded[1]) <= 12:
        raise _refuse(f"Tháng '{words.typed[1]}' không có thật (1 đến 12).")
    month = int(words.folded[1])
    words.drop_front(2)
    return month


def _read_percent(words: _Words) -> int:
    """The percent before a share's `hộ` or `người lớn`: `50%` or `50 %`, from 1 to 100."""
    m = _PERCENT.match(words.typed[-1]) if words.typed else None
    if m is None and len(words.typed) >= 2 and words.typed[-1] == "%" and words.typed[-2].isdigit():
        words.drop_back(1)
        m = _PERCENT.match(words.typed[-1] + "%")
    if m is None:
        raise _refuse("Mục tiêu theo hộ ghi bằng phần trăm, ví dụ: 50% hộ.")
    percent = int(m[1])
    if not 1 <= percent <= 100:
        raise _refuse(f"Tỷ lệ {percent}% không hợp lệ: từ 1% đến 100%.")
    words.drop_back(1)
    return percent


def _looks_like_value(word: str) -> bool:
    return word.lstrip("+-").replace(".", "").replace(",", "").isdigit() or _PERCENT.match(word) is not None


def _read_value(words: _Words) -> int:
    """The target's number at the back, refused when it is a bare percent, unreadable, negative or too large."""
    typed = words.typed[-1]
    if _PERCENT.match(typed):
        raise _refuse(f"'{typed}' là tỷ lệ: ghi rõ tỷ lệ của gì, ví dụ: {typed} hộ.")
    value = _number(typed)
    if value is None:
        raise _refuse(f"Số '{typed}' không đọc được.")
    if value < 0:
        raise _refuse(f"Mục tiêu không thể là số âm ({typed}).")
    if value > MAX_TARGET:
        raise _refuse(f"Mục tiêu {typed} quá lớn (tối đa {grouped(MAX_TARGET)}): kiểm tra lại số.")
    words.drop_back(1)
    return value


def _read_amount(words: _Words, split: str | None) -> tuple[int | None, str | None, int | None]:
    """How much, at the back: (value, None, None), or a share (None, of what, percent); nothing only for a split."""
    share_of, used = _strip_suffix(words.folded, SHARES)
    if used:
        words.drop_back(used)
        return None, share_of, _read_percent(words)
    if words.typed and _looks_like_value(words.typed[-1]):
        value = _read_value(words)
        if split is not None and value == 0:
            raise _refuse("Không chia được mục tiêu 0.")
        return value, None, None
    if split is None:
        raise _refuse("Thiếu con số mục tiêu.")
    return None, None, None


def _read_indicator(words: _Words, catalogue: Catalogue, level: str | None) -> str:
    """The indicator's code from the longest run of words at the back that names one; refused with a guess."""
    start = 1 if level else 0
    for size in range(min(catalogue.longest, len(words.folded) - start), 0, -1):
        spec = catalogue.lookup(re.findall(r"[^\W_]+", " ".join(words.folded[-size:])))
        if spec is not None:
            words.drop_back(size)
            return spec.code
    typed = " ".join(words.typed[start:]) if not level else (words.typed[-1] if len(words.typed) > 1 else "")
    guess = catalogue.suggest(typed) if typed else None
    hint = f" Có phải '{guess.code}' ({guess.name})?" if guess else ""
    codes = ", ".join(s.code for s in catalogue.specs[:12])
    raise _refuse(f"Không có chỉ tiêu '{typed}'.{hint} Các chỉ tiêu: {codes}.")


def _read_unit(words: _Words, level: str | None) -> str:
    """The unit's name after `tổ` or `xã` (the words left); nothing may be left when no unit is named."""
    name = " ".join(words.typed[1:] if level else words.typed)
    if level and not name:
        raise _refuse("Thiếu tên tổ hoặc xã sau chữ 'tổ'/'xã'.")
    if not level and words.typed:
        raise _refuse(f"Không hiểu '{' '.join(words.typed)}'. Tên đơn vị bắt đầu bằng 'tổ' hoặc 'xã'.")
    return name


def parse_target(text: str, catalogue: Catalogue, this_year: int) -> TargetSpec | None:
    """Read `/muctieu` arguments; None for no arguments (show the targets); TargetParseError with the reason."""
    typed = text.split()
    if not typed:
        return None
    words = _Words(typed, [fold(w) for w in typed])
    year = _read_year(words, this_year)
    month = _read_month(words)
    split, used = _strip_suffix(words.folded, SPLITS)
    if used:
        words.drop_back(used)
    value, share_of, share_percent = _read_amount(words, split)
    level = UNIT_WORDS.get(words.folded[0]) if words.folded else None
    indicator = _read_indicator(words, catalogue, level)
    return TargetSpec(
        year=year,
        month=month,
        level=level,
        unit_name=_read_unit(words, level),
        indicator=indicator,
        value=value,
        share_of=share_of,
        share_percent=share_percent,
        split=split,
    )


def split_even(total: int, keys: list[str]) -> dict[str, int]:
    """`total` over `keys` as evenly as whole numbers allow (the first ones get one more); sums to `total`."""
    base, extra = divmod(total, len(keys))
    return {key: base + (1 if i < extra else 0) for i, key in enumerate(keys)}


def split_weighted(total: int, weights: dict[str, int]) -> dict[str, int]:
    """`total` in proportion to positive `weights` (largest remainders get the rounding); sums to `total`."""
    whole = sum(weights.values())
    shares = {k: total * w / whole for k, w in weights.items()}
    out = {k: int(v) for k, v in shares.items()}
    rest = total - sum(out.values())
    for key in sorted(shares, key=lambda k: (-(shares[k] - out[k]), k))[:rest]:
        out[key] += 1
    return out


POPULATION_USAGE = (
    "/caidat [tổ <tên> | xã <tên>] hộ <số hộ> [người lớn <số người>]\n"
    "Ví dụ: /caidat hộ 350 · /caidat tổ Thôn 3 hộ 120 người lớn 400"
)
_POPULATION_KEYS = {
    ("so", "ho"): "households",
    ("ho",): "households",
    ("nguoi", "lon"): "adults",
    ("nguoilon",): "adults",
    ("nguoi", "truong", "thanh"): "adults",
}
MAX_POPULATION = 20_000_000


@dataclass(frozen=True)
class PopulationSpec:
    """A `/caidat` of denominators: which unit (None: the chat's), households and adults (None: unchanged)."""

    level: str | None
    unit_name: str
    households: int | None
    adults: int | None


def parse_population(text: str) -> PopulationSpec | None:
    """Read `/caidat [tổ X] hộ N [người lớn M]`; None when the text is not about denominators."""
    words = text.split()
    folded = [fold(w) for w in words]
    found: dict[str, int] = {}
    first_key: int | None = None
    i = 0
    while i < len(folded):
        for key, field_name in sorted(_POPULATION_KEYS.items(), key=lambda kv: -len(kv[0])):
            if tuple(folded[i : i + len(key)]) == key and i + len(key) < len(folded):
                number = _number(words[i + len(key)])
                if number is None:
                    break
                if number < 0 or number > MAX_POPULATION:
                    raise TargetParseError(f"Số {words[i + len(key)]} không hợp lệ.\nCách dùng: {POPULATION_USAGE}")
                first_key = i if first_key is None else first_key
                found[field_name] = number
                i += len(key)
                break
        i += 1
    if first_key is None:
        return None
    head = folded[:first_key]
    level = UNIT_WORDS.get(head[0]) if head else None
    if head and (level is None or len(head) < 2):
        raise TargetParseError(f"Không hiểu '{' '.join(words[:first_key])}'.\nCách dùng: {POPULATION_USAGE}")
    return PopulationSpec(level, " ".join(words[1:first_key]), found.get("households"), found.get("adults"))
