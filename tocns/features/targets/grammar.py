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

from tocns.core.text import fold
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


def parse_target(text: str, catalogue: Catalogue, this_year: int) -> TargetSpec | None:
    """Read `/muctieu` arguments; None for no arguments (show the targets); TargetParseError with the reason."""
    words = text.split()
    if not words:
        return None
    folded = [fold(w) for w in words]

    def refuse(reason: str) -> TargetParseError:
        return TargetParseError(f"{reason}\nChưa có gì được lưu.\nCách dùng: {USAGE}")

    year = this_year
    if folded[0] == "nam" and len(folded) > 1 and folded[1].isdigit():
        words, folded = words[1:], folded[1:]
    if re.fullmatch(r"[0-9]{4}", folded[0]):
        year = int(folded[0])
        words, folded = words[1:], folded[1:]
    if year < this_year:
        raise refuse(f"Năm {year} đã qua: chỉ đặt mục tiêu cho năm nay ({this_year}) hoặc các năm tới.")
    if year > this_year + MAX_YEARS_AHEAD:
        raise refuse(f"Năm {year} quá xa: đặt mục tiêu tối đa {MAX_YEARS_AHEAD} năm tới.")
    month = 0
    if len(folded) >= 2 and folded[0] == "thang":
        if not folded[1].isdigit() or not 1 <= int(folded[1]) <= 12:
            raise refuse(f"Tháng '{words[1]}' không có thật (1 đến 12).")
        month = int(folded[1])
        words, folded = words[2:], folded[2:]
    split, used = _strip_suffix(folded, SPLITS)
    if used:
        words, folded = words[:-used], folded[:-used]
    share_of, used = _strip_suffix(folded, SHARES)
    share_percent: int | None = None
    value: int | None = None
    if used:
        words, folded = words[:-used], folded[:-used]
        m = _PERCENT.match(words[-1]) if words else None
        if m is None and len(words) >= 2 and words[-1] == "%" and words[-2].isdigit():
            words, folded = words[:-1], folded[:-1]
            m = _PERCENT.match(words[-1] + "%")
        if m is None:
            raise refuse("Mục tiêu theo hộ ghi bằng phần trăm, ví dụ: 50% hộ.")
        share_percent = int(m[1])
        if not 1 <= share_percent <= 100:
            raise refuse(f"Tỷ lệ {share_percent}% không hợp lệ: từ 1% đến 100%.")
        words, folded = words[:-1], folded[:-1]
    elif words and (words[-1].lstrip("+-").replace(".", "").replace(",", "").isdigit() or _PERCENT.match(words[-1])):
        if _PERCENT.match(words[-1]):
            raise refuse(f"'{words[-1]}' là tỷ lệ: ghi rõ tỷ lệ của gì, ví dụ: {words[-1]} hộ.")
        value = _number(words[-1])
        if value is None:
            raise refuse(f"Số '{words[-1]}' không đọc được.")
        if value < 0:
            raise refuse(f"Mục tiêu không thể là số âm ({words[-1]}).")
        if value > MAX_TARGET:
            raise refuse(f"Mục tiêu {words[-1]} quá lớn (tối đa {MAX_TARGET:,}): kiểm tra lại số.".replace(",", "."))
        words, folded = words[:-1], folded[:-1]
    elif split is None:
        raise refuse("Thiếu con số mục tiêu.")
    if split is not None and value == 0:
        raise refuse("Không chia được mục tiêu 0.")
    level = UNIT_WORDS.get(folded[0]) if folded else None
    start = 1 if level else 0
    indicator = None
    for size in range(min(catalogue.longest, len(folded) - start), 0, -1):
        spec = catalogue.lookup(re.findall(r"[^\W_]+", " ".join(folded[-size:])))
        if spec is not None:
            indicator = spec
            words, folded = words[:-size], folded[:-size]
            break
    if indicator is None:
        typed = " ".join(words[start:]) if not level else (words[-1] if len(words) > 1 else "")
        guess = catalogue.suggest(typed) if typed else None
        hint = f" Có phải '{guess.code}' ({guess.name})?" if guess else ""
        codes = ", ".join(s.code for s in catalogue.specs[:12])
        raise refuse(f"Không có chỉ tiêu '{typed}'.{hint} Các chỉ tiêu: {codes}.")
    name = " ".join(words[start:])
    if level and not name:
        raise refuse("Thiếu tên tổ hoặc xã sau chữ 'tổ'/'xã'.")
    if not level and words:
        raise refuse(f"Không hiểu '{' '.join(words)}'. Tên đơn vị bắt đầu bằng 'tổ' hoặc 'xã'.")
    return TargetSpec(
        year=year,
        month=month,
        level=level,
        unit_name=name,
        indicator=indicator.code,
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
