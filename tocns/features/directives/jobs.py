"""One reminder to each group whose commune has not acknowledged a directive after DIRECTIVE_REMINDER_HOURS."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tocns.core.dates import fmt_date
from tocns.core.text import clean_text
from tocns.db import job_done
from tocns.features.directives import store
from tocns.features.directives.service import ack_buttons
from tocns.outbox import store as outbox_store

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from tocns.core.jobs import JobContext
    from tocns.features.directives.models import Directive


async def directive_reminders(app: JobContext, now: datetime) -> list[str]:
    """Queue the reminders due at `now`; the dedupe key makes it one per group and directive."""
    lines: list[str] = []
    tz = app.settings.tz
    async with app.db.session() as session:
        looked_at, due = await store.unacked_targets(
            session, now, timedelta(hours=app.settings.directive_reminder_hours)
        )
        keys = [f"directive-reminder:{d.id}:{t.platform}:{t.chat_id}" for d, t in due]
        # The week a directive is open for reminders, each minute costs a few statements, not two per group.
        used = await outbox_store.used_keys(session, keys)
        directives = {d.id: d for d, _t in due}  # a handful, each with thousands of groups
        texts = {key: _reminder_text(d, tz) for key, d in directives.items()}
        buttons = {key: ack_buttons(d) for key, d in directives.items()}
        messages: list[tuple[dict[str, Any], str]] = [
            (
                {
                    "platform": target.platform, "chat_id": target.chat_id, "text": texts[directive.id],
                    "kind": "directive_reminder", "dedupe_key": key, "now": now, "buttons": buttons[directive.id],
                },
                f"nhắc chỉ đạo {directive.id} tới {target.platform}:{target.chat_id}",
            )
            for (directive, target), key in zip(due, keys, strict=True)
            if key not in used
        ]  # fmt: skip
        # A directive to every commune has thousands of groups: one multi-row INSERT per batch, not one per group.
        stored = await outbox_store.enqueue_many(session, [message for message, _line in messages])
        lines += outbox_store.stored_lines(messages, stored)
        # One reminder per group and directive: once queued, the rest of the directive's week reads none of them.
        await job_done.mark_finished(session, store.REMINDERS_JOB, store.REMINDERS_SENT, now, looked_at)
    return lines


def _reminder_text(directive: Directive, tz: ZoneInfo) -> str:
    """The reminder of a directive not yet acknowledged: the same text to each of its groups."""
    sent = fmt_date(directive.created_at.astimezone(tz).date())
    return (
        f"⏰ Nhắc: chỉ đạo số {directive.id} gửi ngày {sent} chưa được xác nhận.\n"
        f"{clean_text(directive.text)}\n\n"
        f"Trả lời /danhan {directive.id} để xác nhận."
    )
