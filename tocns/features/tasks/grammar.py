"""Pure parsing of `/caidat`: a commune's reminder lead days and escalation delay (no database)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tocns.core.text import fold

MAX_DAYS = 30
LEAD_USAGE = "Cách dùng: /caidat nhac 3,1,0 (số ngày trước hạn, 0 là đúng ngày hạn; tối đa 30)."
ESCALATE_USAGE = "Cách dùng: /caidat baolanhdao 2 (số ngày quá hạn, từ 1 đến 30)."
_LEAD_WORDS = {"nhac", "nhacviec"}
_ESCALATE_WORDS = {"baolanhdao", "leothang"}


class SettingsParseError(ValueError):
    """The /caidat arguments could not be read; the message says how to write them."""


@dataclass(frozen=True)
class SettingsChange:
    """What /caidat asked to change: new lead days (most days first) or a new escalation delay."""

    lead_days: tuple[int, ...] | None = None
    escalate_after_days: int | None = None


def parse_settings(args: str) -> SettingsChange | None:
    """Read `/caidat` arguments: None to show the settings, else the one change asked for."""
    text = args.strip()
    if not text:
        return None
    first, _, rest = text.partition(" ")
    key, value = fold(first), rest.replace(" ", "")
    if key in _LEAD_WORDS:
        if not re.fullmatch(r"\d{1,2}(,\d{1,2})*", value):
            raise SettingsParseError(LEAD_USAGE)
        lead = tuple(sorted({int(v) for v in value.split(",")}, reverse=True))
        if lead[0] > MAX_DAYS:
            raise SettingsParseError(f"Số ngày nhắc trước hạn tối đa là {MAX_DAYS}.")
        return SettingsChange(lead_days=lead)
    if key in _ESCALATE_WORDS:
        if not re.fullmatch(r"[0-9]{1,2}", value) or not 1 <= int(value) <= MAX_DAYS:
            raise SettingsParseError(ESCALATE_USAGE)
        return SettingsChange(escalate_after_days=int(value))
    raise SettingsParseError(f"Không có mục cài đặt {text.split()[0]!r}.")
