"""How tasks read in Vietnamese: a person's mention and a deadline's status (shared by commands and reminders)."""

from __future__ import annotations

from datetime import date

from tocns.core.mentions import person_marker
from tocns.core.text import person_name
from tocns.features.org.models import Person


def mention(person: Person) -> str:
    """How a reminder names a person: a mention each channel renders (a real one on Telegram, username or not)."""
    return person_marker(person.user_id, person_name(person.display_name), person.username)


def due_status(due: date, today: date) -> str:
    """'quá hạn 2 ngày', 'hạn hôm nay' or 'còn 3 ngày'."""
    days = (due - today).days
    if days < 0:
        return f"quá hạn {-days} ngày"
    if days == 0:
        return "hạn hôm nay"
    return f"còn {days} ngày"
