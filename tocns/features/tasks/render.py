"""How tasks read in Vietnamese: a person's mention and a deadline's status (shared by commands and reminders)."""

from __future__ import annotations

from datetime import date

from tocns.features.org.models import Person


def mention(person: Person) -> str:
    """How a reminder names a person: @username when known, else the display name."""
    return f"@{person.username}" if person.username else person.display_name


def due_status(due: date, today: date) -> str:
    """'quá hạn 2 ngày', 'hạn hôm nay' or 'còn 3 ngày'."""
    days = (due - today).days
    if days < 0:
        return f"quá hạn {-days} ngày"
    if days == 0:
        return "hạn hôm nay"
    return f"còn {days} ngày"
