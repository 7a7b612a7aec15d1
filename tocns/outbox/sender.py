"""The outbox sender: drains the outbox table through the transports under per-platform rate limits."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.channels.base import ButtonTransport, SendResult, SendStatus, Transport
from tocns.config import Settings
from tocns.core.addressing import address_commands
from tocns.core.dates import quiet_hours_end
from tocns.core.messages import Attachment, ChatEvent, ChatEventKind, buttons_from_json
from tocns.core.metrics import METRICS
from tocns.core.supervisor import Backoff, LoopHealth, describe, is_outage, pause, supervise
from tocns.db.engine import Database
from tocns.db.locks import advisory_lock
from tocns.outbox import store as outbox_store
from tocns.outbox.models import OutboxMessage

log = logging.getLogger(__name__)

# A little slack on every window against clock granularity (delays are covered by counting at completion).
WINDOW_GUARD_SECONDS = 0.01
# The name the sender reports its progress under (/healthz).
LOOP_NAME = "outbox_sender"
# Extra waiting replies claimed with a batch so that replies to one busy chat merge into one message.
MERGE_LIMIT = 300

MAX_BACKOFF_SECONDS = 300.0
# A platform-wide quota 429 without a retry time (Zalo): the whole platform waits, from a minute, doubling, up to
# half an hour, so a quota storm costs a handful of requests instead of one a second per message.
QUOTA_PAUSE_START_SECONDS = 60.0
QUOTA_PAUSE_MAX_SECONDS = 1800.0
# Answers in a row that were 429s from this many different chats show the platform's own limit (Telegram's flood
# control on the whole bot), not one chat's: then, and only then, every chat of the platform waits
# (docs/reliability.md).
GLOBAL_429_STREAK = 3


class SlidingWindow:
    """At most `count` events in any `window` seconds (monotonic clock)."""

    def __init__(self, count: int, window: float) -> None:
        self.count = max(1, count)
        self.window = window
        self.events: deque[float] = deque()

    def ready_at(self, now: float, n: int = 1) -> float:
        """The earliest moment `n` more events fit."""
        n = min(max(1, n), self.count)
        while self.events and self.events[0] <= now - self.window:
            self.events.popleft()
        if len(self.events) + n <= self.count:
            return now
        return self.events[-(self.count - n + 1)] + self.window

    def record(self, at: float, n: int = 1) -> None:
        """Count `n` events."""
        self.events.extend([at] * n)


PRUNE_AT = 1024
"""Chat windows a platform's limits hold before the idle ones are dropped (then twice the chats still in a window):
memory follows the chats of the last minute, not every chat ever sent to (a national broadcast is 80,000 groups)."""


@dataclass
class PlatformLimits:
    """One platform's limits: overall per second and per chat per minute."""

    global_window: SlidingWindow
    chat_count: int
    chat_window: float = 60.0
    chats: dict[str, SlidingWindow] = field(default_factory=dict)
    # Private chats have their own pace where the platform says so (Telegram: about one message per second).
    is_private: Callable[[str], bool] | None = None
    private_window: float = 1.0
    blocked_until: dict[str, float] = field(default_factory=dict)
    # Set when the answers show the platform's own limit (GLOBAL_429_STREAK): nothing goes to the platform before
    # this monotonic moment.
    paused_until: float = 0.0
    # The chats of the 429s answered in a row (any other answer empties it).
    streak_429: list[str] = field(default_factory=list)
    # Quota 429s in a row; the next pause is 60 s doubled this many times (reset by a delivery).
    quota_strikes: int = 0
    # The number of chat windows at which the idle ones are next dropped (prune).
    prune_at: int = PRUNE_AT

    @classmethod
    def build(
        cls,
        per_second: float,
        per_chat_minute: int,
        share: int,
        chat_window: float = 60.0,
        private: tuple[Callable[[str], bool], float] | None = None,
    ) -> PlatformLimits:
        """Limits for one of `share` senders draining together; `private` is (which chats are private, messages
        per second to each of them)."""
        rate = per_second / max(1, share)
        count = max(1, math.floor(rate))
        return cls(
            global_window=SlidingWindow(count, count / rate + WINDOW_GUARD_SECONDS),
            chat_count=max(1, per_chat_minute // max(1, share)),
            chat_window=chat_window,
            is_private=private[0] if private else None,
            # One message per window to each private chat, the window widened for `share` senders.
            private_window=max(1, share) / private[1] if private else 1.0,
        )

    def chat(self, chat_id: str) -> SlidingWindow:
        """The per-chat window of one chat."""
        window = self.chats.get(chat_id)
        if window is None:
            if self.is_private is not None and self.is_private(chat_id):
                window = SlidingWindow(1, self.private_window + WINDOW_GUARD_SECONDS)
            else:
                window = SlidingWindow(self.chat_count, self.chat_window + WINDOW_GUARD_SECONDS)
            self.chats[chat_id] = window
        return window

    def prune(self, now: float) -> None:
        """Forget the chats with no send left in their window and no 429 wait ahead: a fresh window is the same."""
        self.chats = {c: w for c, w in self.chats.items() if w.events and w.events[-1] > now - w.window}
        self.blocked_until = {c: until for c, until in self.blocked_until.items() if until > now}
        self.prune_at = max(PRUNE_AT, 2 * len(self.chats))

    def chat_ready_at(self, chat_id: str, now: float) -> float:
        """When this chat may get its next message (its minute budget, a 429's retry_after, a platform pause)."""
        if len(self.chats) >= self.prune_at:
            self.prune(now)
        return max(self.chat(chat_id).ready_at(now), self.blocked_until.get(chat_id, 0.0), self.paused_until)

    def reply_ready_at(self, chat_id: str, now: float) -> float:
        """When a reply may go to this group: at once while it has used less than half its budget of the chat
        window, then spaced evenly over the window (Telegram: 20 a minute, one every 3 s), so that the replies of
        a busy group merge instead of spending the minute's budget in its first seconds and then waiting out the
        rest; a private chat keeps its own pace."""
        window = self.chat(chat_id)
        window.ready_at(now)  # forgets the sends that left the window
        if len(window.events) < max(1, window.count // 2) or (self.is_private is not None and self.is_private(chat_id)):
            return now
        return window.events[-1] + self.chat_window / self.chat_count

    def answered_429(self, chat_id: str, wait: float, now: float) -> bool:
        """Count a 429 with a retry time: the chat waits `wait` seconds; returns whether the whole platform waits
        too (the last GLOBAL_429_STREAK answers were 429s, each from a different chat)."""
        self.blocked_until[chat_id] = max(self.blocked_until.get(chat_id, 0.0), now + wait)
        self.streak_429.append(chat_id)
        if len(set(self.streak_429[-GLOBAL_429_STREAK:])) < GLOBAL_429_STREAK:
            return False
        self.paused_until = max(self.paused_until, now + wait)
        self.streak_429.clear()
        return True

    def quota_pause(self) -> float:
        """Seconds to pause the platform after one more quota 429 in a row."""
        self.quota_strikes += 1
        return min(QUOTA_PAUSE_MAX_SECONDS, QUOTA_PAUSE_START_SECONDS * 2.0 ** (self.quota_strikes - 1))


def telegram_private_chat(chat_id: str) -> bool:
    """Whether a Telegram chat id is a private chat (a user's id: positive; groups and channels are negative)."""
    return chat_id.isdigit()


def telegram_rate(settings: Settings) -> float:
    """Messages a second the whole bot sends on Telegram: the paid broadcast's rate when it is on."""
    return settings.telegram_paid_broadcast_rate if settings.telegram_paid_broadcast else settings.telegram_global_rate


def limits_from_settings(settings: Settings) -> dict[str, PlatformLimits]:
    """Per-platform limits from the settings."""
    return {
        "telegram": PlatformLimits.build(
            telegram_rate(settings),
            settings.telegram_chat_per_minute,
            settings.outbox_senders,
            private=(telegram_private_chat, settings.telegram_private_per_second),
        ),
        "zalo": PlatformLimits.build(settings.zalo_global_rate, settings.zalo_chat_per_minute, settings.outbox_senders),
        "zalo_oa": PlatformLimits.build(
            settings.zalo_oa_global_rate, settings.zalo_chat_per_minute, settings.outbox_senders
        ),
        # No published limit (docs/gapowork.md): Zalo's per-group pace, and GAPOWORK_GLOBAL_RATE overall.
        "gapowork": PlatformLimits.build(
            settings.gapowork_global_rate, settings.zalo_chat_per_minute, settings.outbox_senders
        ),
    }


DeliveryEventHandler = Callable[[AsyncSession, ChatEvent, datetime], Awaitable[object]]
"""A chat event's handler (`tocns.app.chat_events`), run in the session that records the send's outcome."""


@dataclass(frozen=True)
class ChatHooks:
    """What the sender learns from and tells the features, handed in by `tocns.app` (the outbox imports none):
    the handler of each chat event a delivery reveals, and whether a chat is someone's private chat."""

    events: Mapping[ChatEventKind, DeliveryEventHandler] = field(default_factory=dict)
    is_private: Callable[[AsyncSession, str, str], Awaitable[bool]] | None = None


@dataclass
class Job:
    """One send: a message, or several replies to one chat merged into one text."""

    rows: list[OutboxMessage]
    text: str

    @property
    def ids(self) -> list[int]:
        """Outbox ids, the one that stands for the message first."""
        return [r.id or 0 for r in self.rows]

    @property
    def head(self) -> OutboxMessage:
        """The first row: its platform, chat and attachments are the job's."""
        return self.rows[0]


def _stream(row: OutboxMessage) -> tuple[str, str, str]:
    """The messages kept in order: one kind to one chat."""
    return (row.platform, row.chat_id, row.kind)


def mergeable(row: OutboxMessage) -> bool:
    """Whether a message is a plain reply, which goes out merged with the others waiting for its chat (a reply with
    buttons stays a message of its own: its buttons belong under its text, not a merged one)."""
    return row.kind == "reply" and not row.attachments and not row.buttons


def merge_replies(
    rows: list[OutboxMessage],
    max_length: Callable[[str], int],
    text_length: Callable[[str], Callable[[str], int]] = lambda _platform: len,
) -> list[Job]:
    """Group plain replies waiting for the same chat into one message each (at most one part long, measured the
    platform's way), keeping the order."""
    jobs: list[Job] = []
    open_reply: dict[tuple[str, str, str], Job] = {}
    for row in rows:
        key = (row.platform, row.chat_id, row.thread_id or "")
        if mergeable(row):
            job = open_reply.get(key)
            joined = f"{job.text}\n\n{row.text}" if job else row.text
            if job is not None and text_length(row.platform)(joined) <= max_length(row.platform):
                job.rows.append(row)
                job.text = joined
                continue
            job = Job(rows=[row], text=row.text)
            open_reply[key] = job
            jobs.append(job)
        else:
            jobs.append(Job(rows=[row], text=row.text))
    return jobs


def load_attachments(raw: str | None) -> list[Attachment]:
    """Read an outbox row's attachment files; a missing file raises FileNotFoundError."""
    if not raw:
        return []
    return [
        Attachment(
            filename=item["filename"],
            content=Path(item["path"]).read_bytes(),
            mime_type=item["mime_type"],
            path=item["path"],
        )
        for item in json.loads(raw)
    ]


def seconds_between(start: datetime, end: datetime) -> float:
    """Seconds from `start` to `end`, never negative (SQLite gives naive UTC datetimes back)."""
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    return max(0.0, (end - start).total_seconds())


class OutboxSender:
    """Drains the outbox: claims due rows under a lease, sends them at the allowed pace, records the outcome."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        transports: dict[str, Transport],
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
        owner: str | None = None,
        limits: dict[str, PlatformLimits] | None = None,
        command_names: frozenset[str] = frozenset(),
        health: LoopHealth | None = None,
        hooks: ChatHooks | None = None,
    ) -> None:
        self.db = db
        self.hooks = hooks or ChatHooks()
        self.health = health
        self.settings = settings
        self.transports = transports
        self.clock = clock
        self.monotonic = monotonic
        self.owner = owner or f"sender-{uuid.uuid4().hex[:12]}"
        self.limits = limits or limits_from_settings(settings)
        self.batch_size = max(1, math.ceil(max(telegram_rate(settings), settings.zalo_global_rate)))
        self._windows_rebuilt = False
        # Platforms whose token was refused (401): nothing more is sent there until an operator fixes it.
        self.stopped: dict[str, str] = {}
        # The registry's names and aliases (tocns.app passes them): only real commands are rewritten.
        self._command_names = command_names
        # Whether a chat is private never changes: asked of the database once per chat.
        self._private: dict[tuple[str, str], bool] = {}
        # Sends made whose outcome the database could not take (it went away): recorded before anything else,
        # so a message that went out is never handed back and sent again.
        self._unrecorded: list[tuple[Job, SendResult, datetime]] = []
        # A batch was cut short: rows this sender claimed and never attempted are handed back once it is back.
        self._claims_left = False
        # The outage this sender is in (its first error), None while the database answers.
        self.outage: str | None = None
        # Chats a send's answer said moved (platform, old id) -> new id: the rest of a batch claimed for the old id
        # follows without a request that would only be told the same.
        self._moved: dict[tuple[str, str], str] = {}
        # Streams (platform, chat, kind) of this batch whose earlier message went back to waiting, with its retry
        # time: the later ones wait with it, so a summary's files never arrive before its text.
        self._held: dict[tuple[str, str, str], datetime] = {}

    async def rebuild_windows(self) -> int:
        """Count the sends of the last chat window (from the outbox) against this sender's windows.

        Windows live in memory: without this, a restarted sender would give a chat that just had its 20
        messages a fresh minute's budget (up to 8 messages a second to one group were seen).
        """
        span = max((lim.chat_window for lim in self.limits.values()), default=60.0)
        now, mono = self.clock(), self.monotonic()
        async with self.db.session() as session:
            sends = await outbox_store.recent_sends(session, list(self.transports), now - timedelta(seconds=span))
        for platform, chat_id, sent_at in sorted(sends, key=lambda s: seconds_between(s[2], now), reverse=True):
            at = mono - seconds_between(sent_at, now)
            limits = self._limits(platform)
            limits.chat(chat_id).record(at)
            limits.global_window.record(at)
        self._windows_rebuilt = True
        return len(sends)

    def _limits(self, platform: str) -> PlatformLimits:
        if platform not in self.limits:
            self.limits[platform] = PlatformLimits.build(
                self.settings.zalo_global_rate, self.settings.zalo_chat_per_minute, self.settings.outbox_senders
            )
        return self.limits[platform]

    def _max_length(self, platform: str) -> int:
        transport = self.transports.get(platform)
        return transport.max_text_length if transport else 4000

    def quiet_until(self, now: datetime) -> datetime | None:
        """The end of the quiet hours (UTC) when `now` falls in them, else None."""
        local = now.astimezone(self.settings.tz)
        end = quiet_hours_end(local, self.settings.quiet_hours_start, self.settings.quiet_hours_end)
        return end.astimezone(UTC) if end is not None else None

    def _text_length(self, platform: str) -> Callable[[str], int]:
        # Zalo counts UTF-16 units; a transport that says nothing counts characters.
        length: Callable[[str], int] = getattr(self.transports.get(platform), "text_length", len)
        return length

    @property
    def active_platforms(self) -> list[str]:
        """The platforms this sender still sends to (not stopped by a refused token)."""
        return [p for p in self.transports if p not in self.stopped]

    @property
    def owes(self) -> bool:
        """Whether a cut-short batch left outcomes to record or claims to hand back."""
        return bool(self._unrecorded) or self._claims_left

    async def catch_up(self) -> None:
        """Record what a cut-short batch left (the outcome of each send made), then hand back the rows it claimed
        and never attempted; raises while the database is still away (nothing is lost, it is tried again)."""
        while self._unrecorded:
            job, result, at = self._unrecorded[0]
            await self._record(job, result, at)
            self._unrecorded.pop(0)
        if self._claims_left:
            async with self.db.session() as session:
                released = await outbox_store.release_own_claims(
                    session, list(self.transports), self.owner, self.clock()
                )
            self._claims_left = False
            if released:
                log.info("outbox: %d message(s) claimed before the outage handed back, unsent", released)

    async def run_once(self) -> int:
        """Claim one batch and send it; return how many rows were handled (0 when nothing was due)."""
        if self.owes:
            await self.catch_up()
        platforms = self.active_platforms
        if not platforms:
            return 0
        async with self.db.session() as session:
            # A terminal (the console platform) wakes nobody: only phones keep the quiet hours.
            phones = [p for p in self.transports if p != "console"]
            if phones and (until := self.quiet_until(self.clock())) is not None:
                await outbox_store.hold_until(session, phones, until)
            rows = await outbox_store.claim(
                session,
                owner=self.owner,
                platforms=platforms,
                now=self.clock(),
                lease_seconds=self.settings.outbox_lease_seconds,
                limit=self.batch_size,
                merge_limit=MERGE_LIMIT,
            )
        self._held = {}
        for job in merge_replies(rows, self._max_length, self._text_length):
            try:
                if (held := self._held.get(_stream(job.head))) is not None:
                    await self._reschedule(job, held, None, False)
                elif not await self._follow_moved(job):
                    await self._send(job)
            except Exception:
                # The rest of the batch stays claimed by this sender until catch_up hands it back.
                self._claims_left = True
                raise
        return len(rows)

    async def _handed_back(self, job: Job, limits: PlatformLimits) -> bool:
        """Put a claimed job back to waiting when it may not go now (its platform stopped, its lease nearly out,
        its chat's budget or slot not come), no attempt counted; whether it was."""
        head = job.head
        if head.platform in self.stopped:
            # Claimed in the batch that found the token refused: back to waiting, no attempt counted.
            await self._reschedule(job, self.clock(), None, False)
            return True
        margin = timedelta(
            seconds=min(self.settings.telegram_request_timeout + 5, self.settings.outbox_lease_seconds / 2)
        )
        if head.lease_until is not None and self.clock() >= head.lease_until - margin:
            # Slow sends ate the lease: another sender may take these rows now, so hand them back unsent.
            await self._reschedule(job, self.clock(), None, False)
            return True
        ready = limits.chat_ready_at(head.chat_id, self.monotonic())
        if mergeable(head):
            # Replies to a group that just had a message wait for its next even slot, merged with those that
            # arrive meanwhile: a burst of `/ghi` in one group costs a message every few seconds, not one each.
            ready = max(ready, limits.reply_ready_at(head.chat_id, self.monotonic()))
        if ready <= self.monotonic():
            return False
        # This chat used its budget (or its slot is not come): put the rows back without counting an attempt.
        when = self.clock() + timedelta(seconds=ready - self.monotonic())
        if mergeable(head):
            async with self.db.session() as session:
                await outbox_store.hold_replies(session, job.ids, self.owner, when)
            self._held.setdefault(_stream(head), when)
        else:
            await self._reschedule(job, when, None, False)
        return True

    async def _send(self, job: Job) -> None:
        head = job.head
        limits = self._limits(head.platform)
        if await self._handed_back(job, limits):
            return
        try:
            attachments = load_attachments(head.attachments)
        except (OSError, ValueError, KeyError) as exc:
            await self._fail(job, f"không đọc được tệp đính kèm: {exc}")
            return
        # A merged job is shorter than one part, so only a single message can have been sent in part before.
        skip = head.parts_sent if len(job.rows) == 1 else 0
        text = await self._in_chat_form(head.platform, head.chat_id, job.text)
        # A long text goes out in several parts, each a request that counts against the limits.
        length = self._text_length(head.platform)(text)
        # An attachment is one request, or more where the platform uploads first (the Zalo OA: upload, send).
        per_file: int = getattr(self.transports[head.platform], "requests_per_attachment", 1)
        requests = max(1, math.ceil(length / self._max_length(head.platform))) + per_file * len(attachments) - skip
        requests = max(1, requests)
        while (wait := limits.global_window.ready_at(self.monotonic(), requests) - self.monotonic()) > 0:
            await asyncio.sleep(wait)
        transport = self.transports[head.platform]
        # Buttons go only to a transport that shows them; the text says each command in words anyway.
        buttons = buttons_from_json(head.buttons) if getattr(transport, "supports_buttons", False) else []
        if buttons:
            result = await cast(ButtonTransport, transport).send(
                head.chat_id, text, attachments, skip=skip, thread_id=head.thread_id, buttons=buttons
            )
        else:
            result = await transport.send(head.chat_id, text, attachments, skip=skip, thread_id=head.thread_id)
        # Counted when the answer came back, not when the request left: the platform saw the request at or
        # before this moment, so spacing from here holds at the platform whatever the network delay was.
        done = self.monotonic()
        limits.global_window.record(done, requests)
        limits.chat(head.chat_id).record(done, requests)
        at = self.clock()
        try:
            await self._record(job, result, at)
        except Exception as exc:
            if not is_outage(exc):
                raise
            # The message went out (or failed) but the database did not hear it: keep the outcome, record it first
            # when the database answers again (the rows stay claimed by this sender meanwhile).
            self._unrecorded.append((job, result, at))
            raise

    async def _follow_moved(self, job: Job) -> bool:
        """Point a job at its chat's new id, due now, when a send of this batch learned the chat moved."""
        new_chat_id = self._moved.get((job.head.platform, job.head.chat_id))
        if new_chat_id is None:
            return False
        async with self.db.session() as session:
            await outbox_store.retarget(session, job.ids, self.owner, new_chat_id, self.clock())
        return True

    async def _in_chat_form(self, platform: str, chat_id: str, text: str) -> str:
        """The text with its commands written as this chat delivers them to the bot (`@Bot ghi` in a group of a
        platform that only hears mentions, `/ghi` everywhere else): the one place texts get the platform's form."""
        mention = getattr(self.transports[platform], "group_command_mention", None)
        if not mention or "/" not in text:
            return text
        key = (platform, chat_id)
        if key not in self._private:
            if self.hooks.is_private is None:
                return address_commands(text, self._command_names, mention)
            async with self.db.session() as session:
                self._private[key] = await self.hooks.is_private(session, platform, chat_id)
        if self._private[key]:
            return text
        return address_commands(text, self._command_names, mention)

    async def _record(self, job: Job, result: SendResult, now: datetime) -> None:
        head = job.head
        if result.status != SendStatus.RATE_LIMITED:
            self._limits(head.platform).streak_429.clear()  # the platform answered: it is not refusing everything
        if result.status == SendStatus.OK:
            self._limits(head.platform).quota_strikes = 0
            async with self.db.session() as session:
                await outbox_store.mark_sent(session, job.ids, self.owner, now)
            for row in job.rows:
                METRICS.send_latency.labels(head.platform).observe(seconds_between(row.created_at, now))
        elif result.new_chat_id:
            moved = ChatEvent(ChatEventKind.CHAT_MIGRATED, head.platform, head.chat_id, new_chat_id=result.new_chat_id)
            async with self.db.session() as session:
                # What else follows the chat (its binding, directives, waiting messages) is the event's handler's
                # decision, the same as when the migration arrives as an update; this job's own rows follow here.
                await self._report(session, moved, now)
                await outbox_store.retarget(session, job.ids, self.owner, result.new_chat_id, now)
            self._moved[(head.platform, head.chat_id)] = result.new_chat_id
            log.info("%s:%s moved to %s", head.platform, head.chat_id, result.new_chat_id)
        elif result.status == SendStatus.UNAUTHORIZED:
            await self._stop_platform(job, result.error or "401")
        elif result.status == SendStatus.RATE_LIMITED and result.pause_platform and result.retry_after is None:
            await self._quota_pause(job, result)
        elif result.status == SendStatus.RATE_LIMITED:
            wait = result.retry_after if result.retry_after is not None else self._backoff(head.attempts)
            limits = self._limits(head.platform)
            # A chat's own limit pauses that chat; the platform's shows as 429s from several chats in a row.
            if result.retry_after is not None and limits.answered_429(head.chat_id, wait, self.monotonic()):
                log.warning(
                    "%s: 429s from %d chats in a row: every chat waits %.1f s", head.platform, GLOBAL_429_STREAK, wait
                )
            else:
                limits.blocked_until[head.chat_id] = self.monotonic() + wait
                log.info("429 for %s:%s, retry after %.1fs", head.platform, head.chat_id, wait)
            await self._reschedule(job, now + timedelta(seconds=wait), result.error, False, result.parts_sent)
        elif result.status == SendStatus.TRANSIENT and head.attempts + 1 < self.settings.outbox_max_attempts:
            when = now + timedelta(seconds=self._backoff(head.attempts))
            await self._reschedule(job, when, result.error, True, result.parts_sent)
        else:
            await self._fail(job, result.error or "gửi không thành công", chat_gone=result.chat_gone)

    async def _quota_pause(self, job: Job, result: SendResult) -> None:
        head, now = job.head, self.clock()
        limits = self._limits(head.platform)
        wait = limits.quota_pause()
        limits.paused_until = max(limits.paused_until, self.monotonic() + wait)
        give_up = timedelta(hours=self.settings.zalo_quota_give_up_hours)
        if seconds_between(head.created_at, now) >= give_up.total_seconds():
            hours = f"{self.settings.zalo_quota_give_up_hours:g}"
            await self._fail(job, f"{head.platform} báo hết hạn mức gửi (429) suốt {hours} giờ: ngừng thử gửi tin này")
            return
        log.warning("%s quota exceeded (429): every chat of it waits %.0f s", head.platform, wait)
        await self._reschedule(job, now + timedelta(seconds=wait), result.error, False, result.parts_sent)

    async def _stop_platform(self, job: Job, error: str) -> None:
        head = job.head
        self.stopped[head.platform] = error
        METRICS.channel_stopped.labels(head.platform).set(1)
        log.error(
            "%s refused the bot token (%s): sending to %s stopped, its messages kept waiting; fix the token and "
            "restart",
            head.platform,
            error,
            head.platform,
        )
        # Back to waiting with the reason on the row (`tocns outbox` shows it), no attempt counted.
        await self._reschedule(job, self.clock(), error, False, job.head.parts_sent if len(job.rows) == 1 else None)

    def _backoff(self, attempts: int) -> float:
        # Jitter spreads the retries of many failed messages instead of sending them back all at once.
        return min(MAX_BACKOFF_SECONDS, 2.0**attempts) * random.uniform(0.5, 1.0)

    async def _reschedule(
        self, job: Job, when: datetime, error: str | None, count_attempt: bool, parts_sent: int | None = None
    ) -> None:
        # Progress inside a message is kept for a single row only; a merged job is never sent in part.
        parts = parts_sent if parts_sent is not None and len(job.rows) == 1 else None
        async with self.db.session() as session:
            await outbox_store.reschedule(session, job.ids, self.owner, when, error, count_attempt, parts)
        self._held.setdefault(_stream(job.head), when)

    async def _report(self, session: AsyncSession, event: ChatEvent, now: datetime) -> None:
        """Hand a chat event a delivery revealed to its handler; what it would say back is not sent (the chat is
        gone, or the handler of a move has nothing to say)."""
        handler = self.hooks.events.get(event.kind)
        if handler is not None:
            await handler(session, event, now)

    async def _fail(self, job: Job, error: str, chat_gone: bool = False) -> None:
        head, now = job.head, self.clock()
        async with self.db.session() as session:
            await outbox_store.mark_failed(session, job.ids, self.owner, error, now)
            if chat_gone:
                # The bot was removed or blocked, or the chat is gone: the same news as a removal update.
                await self._report(session, ChatEvent(ChatEventKind.BOT_REMOVED, head.platform, head.chat_id), now)
        log.warning("outbox %s to %s:%s failed: %s", job.ids, head.platform, head.chat_id, error)

    def _beat(self, due: bool) -> None:
        if self.outage is not None:
            log.warning("outbox sender: database reachable again; sending resumes")
            self.outage = None
        if self.health is not None:
            self.health.progress(LOOP_NAME, due)

    def note_failure(self, exc: Exception, delay: float) -> None:
        """Log a failed round once per outage (a bug: every time, with its traceback) and tell the registry."""
        if not is_outage(exc):
            log.exception("outbox sender round failed; retrying in %.1f s", delay)
        elif self.outage is None:
            log.warning(
                "outbox sender: database unreachable (%s); retrying with backoff up to %g s",
                describe(exc),
                self.settings.loop_backoff_max_seconds,
            )
        if is_outage(exc):
            self.outage = self.outage or describe(exc)
        if self.health is not None:
            self.health.failed(LOOP_NAME, exc, due=True if self.owes else None)

    async def drain(
        self, stop: asyncio.Event | None = None, until_empty: bool = False, leave_on_outage: bool = False
    ) -> None:
        """Send until stopped (or, with until_empty, until nothing is pending or in flight).

        A failed round (the database or network away) never ends it: it waits (capped exponential backoff) and
        goes on, the leases keeping the rows safe. With `leave_on_outage` it returns after an outage instead, so
        `run_elected` can win the election again (the lock's connection died with the database).
        """
        stop = stop or asyncio.Event()
        backoff = Backoff(min(1.0, self.settings.outbox_poll_seconds), self.settings.loop_backoff_max_seconds)
        while not stop.is_set():
            try:
                if not self._windows_rebuilt:
                    await self.rebuild_windows()
                handled = await self.run_once()
                if handled:
                    backoff.reset()
                    self._beat(True)
                    continue
                platforms = self.active_platforms
                async with self.db.session() as session:
                    if until_empty and await outbox_store.unfinished(session, platforms) == 0:
                        self._beat(False)
                        return
                    due = await outbox_store.next_due(session, platforms)
            except Exception as exc:
                delay = backoff.next()
                self.note_failure(exc, delay)
                if leave_on_outage and is_outage(exc):
                    return
                await pause(stop, delay)
                continue
            backoff.reset()
            wait = self.settings.outbox_poll_seconds
            now = self.clock()
            if due is not None:
                wait = min(wait, max(0.01, (due - now).total_seconds()))
            self._beat(due is not None and (due - now).total_seconds() <= 0)
            await pause(stop, wait)


# Any fixed 64-bit number, different from the scheduler's.
SENDER_LOCK_KEY = 7_202_611_230_402
# How often a waiting sender tries the election lock: a dead sender's work is taken over within this.
SENDER_TAKEOVER_SECONDS = 5.0


async def run_elected(
    db: Database,
    settings: Settings,
    transports: dict[str, Transport],
    stop: asyncio.Event,
    clock: Callable[[], datetime],
    until_empty: bool = False,
    takeover_seconds: float | None = None,
    command_names: frozenset[str] = frozenset(),
    health: LoopHealth | None = None,
    hooks: ChatHooks | None = None,
) -> None:
    """Send only while holding the sender election lock (PostgreSQL), waiting for it otherwise.

    Every sender process (`tocns serve` workers, `tocns run`, `tocns outbox send`) goes through here: the rate
    windows live in one process's memory, so two senders at once would double the rate at the platform.
    The winner hands back at once whatever a previous holder had claimed: holding the lock proves that one is
    gone, so its messages need not wait out their lease (unless this process saw the database go away lately:
    then the previous holder may be alive and recording its sends, and the leases decide). With `until_empty`,
    a waiting sender also returns once nothing is left to send (another sender did it).

    The database going away never ends it: the lock's connection dies with it, so the sender leaves, waits
    (capped exponential backoff) and stands for election again, keeping what it owes (docs/reliability.md).
    """
    platforms = list(transports)  # one sender for the whole run: unrecorded outcomes survive a lost election
    sender = OutboxSender(db, settings, transports, clock, command_names=command_names, health=health, hooks=hooks)
    backoff = Backoff(min(1.0, takeover_seconds or SENDER_TAKEOVER_SECONDS), settings.loop_backoff_max_seconds)
    last_outage: datetime | None = None
    lease = settings.outbox_lease_seconds
    while not stop.is_set():
        try:
            if sender.owes:
                await sender.catch_up()  # needs no lock: the rows are this sender's own
            async with advisory_lock(db, SENDER_LOCK_KEY, wait=False) as got:
                if got:
                    recent = last_outage is not None and seconds_between(last_outage, clock()) < lease
                    if not db.is_sqlite and not recent:  # on SQLite the lock is not a real election: leases decide
                        async with db.session() as session:
                            released = await outbox_store.release_claims(session, platforms, sender.owner, clock())
                        if released:
                            log.warning("took over %d message(s) claimed by a sender that stopped", released)
                    await sender.drain(stop, until_empty=until_empty, leave_on_outage=not db.is_sqlite)
                    if stop.is_set() or sender.outage is None:
                        return
                    raise ConnectionError(sender.outage)  # the lock's connection is gone with the database
            if health is not None:
                health.progress(LOOP_NAME, False)  # standing by: another process sends
            backoff.reset()
            if until_empty:
                async with db.session() as session:
                    if await outbox_store.unfinished(session, platforms) == 0:
                        return
            wait = takeover_seconds or SENDER_TAKEOVER_SECONDS
        except Exception as exc:
            if not is_outage(exc):
                raise
            last_outage = clock()
            wait = backoff.next()
            sender.note_failure(exc, wait)
        await pause(stop, wait)


def start_sender(
    db: Database,
    settings: Settings,
    transports: dict[str, Transport],
    clock: Callable[[], datetime],
    command_names: frozenset[str] = frozenset(),
    health: LoopHealth | None = None,
    hooks: ChatHooks | None = None,
) -> tuple[asyncio.Task[None], asyncio.Event] | None:
    """Start draining through `transports` in the background under the supervisor (None when there is none);
    `command_names` are the registry's, for writing commands in each chat's form; progress goes to `health`;
    `hooks` carry what a delivery reveals about a chat to the features (`tocns.app.start_sender` wires them)."""
    if not transports:
        return None
    stop = asyncio.Event()

    async def elected() -> None:
        # Several `tocns serve` workers each start a sender, but only the election winner sends.
        await run_elected(
            db, settings, transports, stop, clock, command_names=command_names, health=health, hooks=hooks
        )

    async def run() -> None:
        try:
            await supervise(LOOP_NAME, elected, stop, health, Backoff(1.0, settings.loop_backoff_max_seconds))
        finally:
            for transport in transports.values():
                close = getattr(transport, "close", None)
                if close is not None:
                    await close()

    return asyncio.create_task(run()), stop


async def stop_sender(handle: tuple[asyncio.Task[None], asyncio.Event] | None) -> None:
    """Stop a sender started by start_sender after its current message (its leases cover the rest)."""
    if handle is None:
        return
    task, stop = handle
    stop.set()
    try:
        await asyncio.wait_for(task, timeout=15)
    except (TimeoutError, asyncio.CancelledError):
        task.cancel()
