"""Pure parsing of `/caidat`: a commune's reminder lead days and escalation delay (no database)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tocns.core.text import fold

MAX_DAYS = 30
_LEAD_WORDS = {"nhac", "nhacviec"}
_ESCALATE_WORDS = {"baolanhdao", "leothang"}
# A setting's name followed by its value: the value runs to the next setting's name or the end.
_KEYS = sorted(_LEAD_WORDS | _ESCALATE_WORDS, key=len, reverse=True)


class SettingsParseError(ValueError):
    """The /caidat arguments could not be read; the message gives the reason (the command adds the usage once)."""


@dataclass(frozen=True)
class SettingsChange:
    """What /caidat asked to change: new lead days (most days first), a new escalation delay, or both."""

    lead_days: tuple[int, ...] | None = None
    escalate_after_days: int | None = None


def _read_lead(value: str, typed: str) -> tuple[int, ...]:
    """Lead days '3,1,0' -> (3, 1, 0); a reason when they are not whole days up to MAX_DAYS."""
    if not value:
        raise SettingsParseError(f"'{typed}' thiếu số ngày nhắc trước hạn, ví dụ: nhac 3,1,0.")
    if not re.fullmatch(r"\d{1,2}(,\d{1,2})*", value):
        raise SettingsParseError(
            f"Số ngày nhắc '{value}' không đọc được: cần các số ngày cách nhau bởi dấu phẩy, ví dụ 3,1,0."
        )
    lead = tuple(sorted({int(v) for v in value.split(",")}, reverse=True))
    if lead[0] > MAX_DAYS:
        raise SettingsParseError(f"Số ngày nhắc trước hạn tối đa là {MAX_DAYS} (bạn ghi {lead[0]}).")
    return lead


def _read_escalate(value: str, typed: str) -> int:
    """Escalation delay '2' -> 2; a reason when it is not a whole number of days from 1 to MAX_DAYS."""
    if not value:
        raise SettingsParseError(f"'{typed}' thiếu số ngày quá hạn, ví dụ: baolanhdao 2.")
    if not re.fullmatch(r"[0-9]{1,2}", value) or not 1 <= int(value) <= MAX_DAYS:
        raise SettingsParseError(f"Số ngày quá hạn để báo lãnh đạo phải từ 1 đến {MAX_DAYS} (bạn ghi '{value}').")
    return int(value)


def parse_settings(args: str) -> SettingsChange | None:
    """Read `/caidat` arguments: None to show the settings, else the changes asked for (one or both settings)."""
    words = args.split()
    if not words:
        return None
    lead: tuple[int, ...] | None = None
    escalate: int | None = None
    i = 0
    while i < len(words):
        key = fold(words[i])
        if key not in _KEYS:
            raise SettingsParseError(f"Không có mục cài đặt {words[i]!r}; các mục là 'nhac' và 'baolanhdao'.")
        j = i + 1
        while j < len(words) and fold(words[j]) not in _KEYS:
            j += 1
        value = "".join(words[i + 1 : j])
        if key in _LEAD_WORDS:
            if lead is not None:
                raise SettingsParseError("Mục 'nhac' ghi hai lần; chỉ ghi một lần.")
            lead = _read_lead(value, words[i])
        else:
            if escalate is not None:
                raise SettingsParseError("Mục 'baolanhdao' ghi hai lần; chỉ ghi một lần.")
            escalate = _read_escalate(value, words[i])
        i = j
    return SettingsChange(lead_days=lead, escalate_after_days=escalate)
