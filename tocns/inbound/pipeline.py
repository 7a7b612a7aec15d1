"""The inbound pipeline: store each update first, then process it in one session that it owns.

One update is one unit of work: the message's processed-mark, the command's records, its replies in the outbox
and the update's done-mark commit together in one transaction. A channel only translates (`check`); nothing here
knows a platform.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.config import Settings
from tocns.core.files import save_attachment
from tocns.core.messages import ChatEventKind, InboundEvent, IncomingMessage, Reply, too_wide
from tocns.core.router import INTERNAL_ERROR_TEXT, Router
from tocns.core.supervisor import Backoff, LoopHealth, describe, is_outage, supervise
from tocns.core.text import one_line
from tocns.core.updates import Checked, EventHandler, InboundChannel
from tocns.db.engine import Database
from tocns.inbound import store as inbound_store
from tocns.inbound.models import InboundUpdate
from tocns.outbox.store import enqueue

log = logging.getLogger(__name__)

# Updates arriving while a batch is being written wait for the next one; this caps one INSERT's size.
MAX_STORE_BATCH = 200
# Updates processed at once in one process. With hundreds of busy chats, one task per chat would each want a
# database connection: the pool would open and close extra connections, then time out. Below the pool size,
# so the intake, the sender and the scheduler always find a connection.
PROCESSING_SLOTS = 8
# Updates one sweep of the processing loop claims at once (one per chat); more wait for the next sweep.
SWEEP_BATCH = 4 * PROCESSING_SLOTS
# An update stored behind its chat's update that another worker is processing cannot be claimed at once; for this
# long after such a refusal the loop looks again every FOLLOW_UP_POLL_SECONDS instead of INBOUND_POLL_SECONDS, so
# the member's answer does not wait a whole poll (the p99 of /ghi at 50/s with two workers was 0.6-0.95 s), and the
# update is held for this worker meanwhile. Such a poll looks only at the updates waiting here, by id; it walks
# over every chat's head once an INBOUND_POLL_SECONDS (docs/inbound.md). Under a burst of two workers an update
# waited 1-2 s for its turn (p50-p99): a shorter hold lapsed, and the other worker's walk read the update again.
FOLLOW_UP_SECONDS = 10.0
FOLLOW_UP_POLL_SECONDS = 0.02
# An update refused at store stays in the memory of the worker that stored it while it is held for it (see
# FOLLOW_UP_SECONDS): its follow-up polls claim it by id (no walk over the chats), and process it without reading
# its body again. Then the loop's walk over the chats takes it like any other. Of more than MAX_WAITING such
# updates, the oldest are kept as ids alone (claimed by id all the same, their bodies read again): a burst's
# backlog held 1,500 updates at once, and one dropped from memory while still held for its worker held its chat
# until the hold ended (a 10 s stall).
MAX_WAITING = 1000
# The name the processing loop reports its progress under (/healthz).
LOOP_NAME = "inbound_queue"
# However many attempts are configured, a retry never waits longer than this.
MAX_RETRY_SECONDS = 3600.0

EDITED_TEXT = (
    "Bot không xử lý lại tin nhắn đã sửa, nên lệnh vừa sửa chưa được thực hiện lại. "
    "Nếu cần, hãy gửi lệnh đúng thành một tin nhắn mới."
)


@dataclass(frozen=True)
class Failure:
    """A failed attempt at an update, to be recorded (released for a retry, or parked)."""

    channel: InboundChannel
    checked: Checked
    attempts: int
    error: str


# The widths of inbound_update.update_key and chat_key (tocns/inbound/models.py).
KEY_WIDTH = 200
CHAT_KEY_WIDTH = 100


def unstorable(checked: Checked) -> str | None:
    """Why a checked update cannot be stored and processed (a key or a field wider than its column), or None.

    Refused at intake, never stored: such an update would fail every attempt and hold its chat until parked.
    """
    if len(checked.key) > KEY_WIDTH:
        return f"update key is {len(checked.key)} characters, over the {KEY_WIDTH} it is stored in"
    if len(checked.chat) > CHAT_KEY_WIDTH:
        return f"chat is {len(checked.chat)} characters, over the {CHAT_KEY_WIDTH} it is stored in"
    return too_wide(checked.event)


class LostClaim(Exception):
    """The update's claim passed to another worker (the lease lapsed) before this attempt committed."""


def first_line(error: str) -> str:
    """An error's first line, capped: what is stored for the operator."""
    return one_line(error.strip().splitlines()[0] if error.strip() else error, 500)


def _posted(event: InboundEvent, replies: list[Reply]) -> list[Reply]:
    """The replies that go to the chat: a tapped button's refusal is answered to the tapper alone (docs/telegram.md)."""
    if isinstance(event, IncomingMessage) and event.tap:
        return [reply for reply in replies if not reply.refused]
    return replies


async def _answer_tap(channel: InboundChannel, checked: Checked, replies: list[Reply]) -> None:
    """Once a tapped button's command is committed, let its channel answer the tap (Telegram answerCallbackQuery
    and the edit that shows who acted); a failure there is logged, the command stands."""
    answer = getattr(channel, "answer_tap", None)
    if answer is None or not (isinstance(checked.event, IncomingMessage) and checked.event.tap):
        return
    try:
        await answer(checked, replies)
    except Exception:
        log.exception("answering tap %s:%s failed", channel.platform, checked.key)


class Pipeline:
    """Stores each update once, processes it off the request path in one session, and counts what happens."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        router: Router,
        events: dict[ChatEventKind, EventHandler],
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.settings = settings
        self.router = router
        self.events = events
        self.clock = clock
        self.channels: dict[str, InboundChannel] = {}
        self.metrics: Any = None
        self._tasks: set[asyncio.Task[bool]] = set()
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self._chat_users: dict[str, int] = {}
        self._to_store: list[tuple[InboundChannel, Checked, asyncio.Future[bool]]] = []
        self._storer: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(PROCESSING_SLOTS)
        # Who holds a claim: unique per pipeline, so two workers (or two pipelines in a test) never share one.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:100]
        # Failed attempts the database could not record (it was away too): recorded by the next sweep.
        self._unrecorded: dict[int, Failure] = {}
        self._to_hand_back: set[int] = set()
        # Chats (platform:chat) where an update of this worker failed or was taken over, with its id: the updates
        # after it that this worker claimed when storing them are not processed before it (see _attempt).
        self._stalled: dict[str, int] = {}
        # Updates the loop claimed and has not processed yet, by chat: a fast-path update of the same chat that
        # was claimed meanwhile waits for them.
        self._loop_held: dict[str, set[int]] = {}
        self._wake = asyncio.Event()
        # When (loop time) a claim was last refused because an earlier update of its chat was pending elsewhere.
        self._refused_at: float | None = None
        # Updates refused at store, by id, with when (loop time) and their chat (platform:chat): see MAX_WAITING;
        # the most recent MAX_WAITING of them as read then; their ids by chat, in order.
        self._waiting: dict[int, tuple[float, str]] = {}
        self._read: dict[int, Checked] = {}
        self._kept_by_chat: dict[str, list[int]] = {}
        # When (loop time) the loop last walked the chats' heads, and whether that walk took something.
        self._walked_at: float | None = None
        self._walk_again = False
        # Where the processing loop reports its progress (`/healthz`); BotApp gives its own.
        self.health: LoopHealth | None = None

    def add(self, channel: InboundChannel) -> None:
        """Register a platform channel."""
        self.channels[channel.platform] = channel

    # ------------------------------------------------------------------ the unit of work

    async def dispatch(self, session: AsyncSession, event: InboundEvent) -> list[Reply]:
        """What one event answers, computed inside the caller's session."""
        if isinstance(event, IncomingMessage):
            return await self.router.handle(session, event)
        if event.kind == ChatEventKind.MESSAGE_EDITED:
            edited = event.message
            if edited is None or edited.is_bot or self.router.parse(edited) is None:
                return []
            return [Reply(text=EDITED_TEXT)]
        handler = self.events.get(event.kind)
        return await handler(session, event, self.clock()) if handler is not None else []

    async def handle(self, msg: IncomingMessage) -> list[Reply]:
        """Process one message typed locally (console, tests): one session, committed once; replies returned.

        Nothing is stored to retry here: a command that fails is answered with the error at once, and the person
        types it again.
        """
        try:
            async with self.db.session() as session:
                return await self.router.handle(session, msg)
        except Exception:
            log.exception("command failed (platform=%s chat=%s)", msg.platform, msg.chat_id)
            parsed = self.router.parse(msg)
            return [Reply(text=INTERNAL_ERROR_TEXT.format(name=parsed.name))] if parsed is not None else []

    def _messages(
        self, event: InboundEvent, replies: list[Reply], key: str, label: str | None = None
    ) -> list[dict[str, Any]]:
        """The outbox messages of an update's replies (`enqueue`'s keywords), each keyed by the update."""
        messages = []
        for index, reply in enumerate(replies):
            files = [
                {
                    "filename": a.filename,
                    "mime_type": a.mime_type,
                    "path": str(save_attachment(self.settings.files_dir, a)),
                }
                for a in reply.attachments
            ]
            same_chat = reply.chat_id in (None, event.chat_id) and reply.platform in (None, event.platform)
            topic = reply.thread_id or (event.thread_id if same_chat and isinstance(event, IncomingMessage) else None)
            messages.append(
                {
                    "thread_id": topic,
                    "platform": reply.platform or event.platform,
                    "chat_id": reply.chat_id or event.chat_id,
                    "text": reply.text,
                    "kind": "reply",
                    "dedupe_key": f"reply:{key}:{label or index}",
                    "attachments": files or None,
                    "now": self.clock(),
                    "buttons": reply.buttons,
                }
            )
        return messages

    async def _enqueue(
        self, session: AsyncSession, event: InboundEvent, replies: list[Reply], key: str, label: str | None = None
    ) -> None:
        for message in self._messages(event, replies, key, label):
            await enqueue(session, **message)

    async def _run(self, channel: InboundChannel, row_id: int, checked: Checked) -> None:
        # Outside the session: asking the platform (a network call) must not hold a database connection.
        checked = await channel.refresh(checked)
        replies: list[Reply] = []
        async with self.db.session() as session:
            messages: list[dict[str, Any]] = []
            # Dispatch comes first in the transaction: a refused command rolls it back (see Router.handle).
            if checked.event is not None:
                replies = await self.dispatch(session, checked.event)
                posted = _posted(checked.event, replies)
                messages = self._messages(checked.event, posted, f"{channel.platform}:{checked.key}")
            # The done-mark is conditional on still holding the claim: if the lease lapsed and another worker
            # took the update over, everything this attempt wrote is rolled back and that worker's run counts.
            done = await inbound_store.finish_with_messages(
                session, row_id, messages, owner=self.owner, now=self.clock()
            )
            if not done:
                raise LostClaim(row_id)
        await _answer_tap(channel, checked, replies)

    # ------------------------------------------------------------------ storing and scheduling

    def _new_claim(self) -> inbound_store.Claim:
        return self.owner, self.clock() + timedelta(seconds=self.settings.inbound_lease_seconds)

    async def store(self, channel: InboundChannel, checked: Checked) -> int | None:
        """Store a checked update, unclaimed (the processing loop takes it); the row id, or None for a redelivery
        already stored."""
        row = await self._store_one(channel, checked, claim=False)
        return row.id if row is not None else None

    async def _store_one(self, channel: InboundChannel, checked: Checked, claim: bool) -> InboundUpdate | None:
        async with self.db.session() as session:
            row = await inbound_store.store_update(
                session, channel.platform, checked.key, checked.body, now=self.clock(), chat=checked.chat
            )
            if claim and row is not None and row.id is not None:
                key = f"{channel.platform}:{row.chat_key}"
                if self.follows_own(key) and await inbound_store.claim_stored(session, [row.id], self._new_claim()):
                    row.claimed_by = self.owner
        if self.metrics is not None:
            self.metrics.updates_received.labels(channel.platform, "new" if row else "duplicate").inc()
        return row

    async def accept(self, channel: InboundChannel, checked: Checked) -> bool:
        """Store a checked webhook update and start processing it; False for a redelivery already stored.

        Updates that arrive together are written in one INSERT (one transaction) instead of one each, and the
        storing task, not the request, starts the processing: a request cancelled after the write cannot leave a
        stored update unprocessed.
        """
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._to_store.append((channel, checked, done))
        if self._storer is None or self._storer.done():
            self._storer = asyncio.create_task(self._store_batches())
        return await done

    async def _store_batches(self) -> None:
        while self._to_store:
            batch, self._to_store = self._to_store[:MAX_STORE_BATCH], self._to_store[MAX_STORE_BATCH:]
            await self._write(batch)

    async def _write(self, batch: list[tuple[InboundChannel, Checked, asyncio.Future[bool]]]) -> None:
        claimable = [self.follows_own(f"{c.platform}:{u.chat}") for c, u, _ in batch]
        try:
            # Claimed in the same transaction: the fast path holds its claim from the moment the update exists.
            stored = await inbound_store.store_new_updates(
                self.db,
                [(c.platform, u.key, u.body) for c, u, _ in batch],
                chats=[u.chat for _, u, _ in batch],
                claimable=claimable,
                claim=self._new_claim(),
                now=self.clock(),
                # Those refused (another worker holds their chat) wait here, as read, for their turn: held for this
                # worker while its follow-up polls look, so that no other worker's walk reads them again.
                hold_until=self.clock() + timedelta(seconds=FOLLOW_UP_SECONDS),
            )
        except Exception as exc:
            if len(batch) > 1:
                # One update the database refuses must not refuse the others that arrived with it.
                for item in batch:
                    await self._write([item])
                return
            for _, _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for (channel, checked, done), row, tried in zip(batch, stored, claimable, strict=True):
            if self.metrics is not None:
                self.metrics.updates_received.labels(channel.platform, "new" if row else "duplicate").inc()
            if row is not None and row[1] and f"{channel.platform}:{checked.chat}" in self._kept_by_chat:
                # Claimed behind an update of its chat that this worker keeps for its turn (held, not claimed): it
                # goes after that one, through the same follow-up claim, not before it through the fast path.
                self._wait_for_turn(row[0], channel, checked)
            elif row is not None and (row[1] or not tried):
                self.submit(channel, row[0], checked, claimed_at_store=row[1])
            elif row is not None:
                # Refused at store: an earlier update of its chat is pending and not this worker's (another
                # worker holds it, or it waits for a retry). A claim now would be refused as well; the loop's
                # follow-up polls take it in its turn, as it was read here.
                self._wait_for_turn(row[0], channel, checked)
            if not done.done():
                done.set_result(row is not None)

    async def process(
        self, channel: InboundChannel, row_id: int, checked: Checked, claimed_at_store: bool = False
    ) -> bool:
        """Process a stored update under this worker's claim (taken now, or when it was stored); never raises.

        False when it was not processed now: another worker holds it, an earlier update of its chat is still
        pending, the database is away, or the attempt failed. The processing loop then takes it when it is due.
        """
        return await self._attempt(channel, row_id, checked, 1 if claimed_at_store else None, claimed_at_store)

    async def _attempt(
        self,
        channel: InboundChannel,
        row_id: int,
        checked: Checked,
        attempts: int | None,
        at_store: bool = False,
        from_loop: bool = False,
    ) -> bool:
        """One attempt under this worker's claim (taken here when `attempts` is None; when it was stored with
        `at_store`; by the loop with `from_loop`); True when done."""
        key = f"{channel.platform}:{checked.chat}"
        lock = self._chat_locks.setdefault(key, asyncio.Lock())
        self._chat_users[key] = self._chat_users.get(key, 0) + 1
        try:
            # One chat's messages run in arrival order, as its members typed them; chats run in parallel.
            async with lock, self._slots:
                if at_store and not self._my_turn(key, row_id):
                    # Claimed when stored behind updates of its chat this worker held; one of them failed since (or
                    # the loop holds one): not its turn. Handed back; the loop takes it after them.
                    await self._hand_back(row_id)
                    return False
                if attempts is None:
                    try:
                        attempts = await self._claim_one(row_id)
                    except Exception as exc:
                        # Stored, so not lost: the processing loop takes it once the database answers again.
                        log.warning(
                            "claiming %s update %s failed: %s: %s", channel.platform, row_id, type(exc).__name__, exc
                        )
                        return False
                    if attempts is None:
                        self._wait_for_turn(row_id, channel, checked)
                        return False
                if not at_store and self._stalled.get(key, row_id) < row_id:
                    # Claimed under the database's check: nothing earlier of its chat is pending any more.
                    del self._stalled[key]
                try:
                    await self._run(channel, row_id, checked)
                    return True
                except LostClaim:
                    log.warning(
                        "%s update %s was taken over by another worker (lease lapsed)", channel.platform, row_id
                    )
                    self._stalled[key] = min(row_id, self._stalled.get(key, row_id))
                    return False
                except Exception as exc:
                    log.exception("processing %s update %s failed (attempt %d)", channel.platform, row_id, attempts)
                    if self.metrics is not None:
                        self.metrics.errors.labels("process").inc()
                    failure = Failure(channel, checked, attempts, first_line(f"{type(exc).__name__}: {exc}"))
                self._stalled[key] = min(row_id, self._stalled.get(key, row_id))
                await self._settle(row_id, failure)
                return False
        finally:
            self._chat_users[key] -= 1
            if not self._chat_users[key]:
                del self._chat_users[key], self._chat_locks[key]
            if from_loop:
                self._release_loop_hold(key, row_id)

    def _my_turn(self, key: str, row_id: int) -> bool:
        """Whether an update this worker claimed when storing it may run now: no update of its chat before it
        failed here (or was taken over), and the loop holds none."""
        if self._stalled.get(key, row_id) < row_id:
            return False
        return not any(held < row_id for held in self._loop_held.get(key, ()))

    def _release_loop_hold(self, key: str, row_id: int) -> None:
        held = self._loop_held.get(key)
        if held is not None:
            held.discard(row_id)
            if not held:
                del self._loop_held[key]

    def follows_own(self, chat_key: str) -> bool:
        """Whether an update of this chat, stored now, may be claimed behind the updates of its chat this worker
        holds (they run first, in this worker's order): not after a failure here that may still be pending."""
        return chat_key not in self._stalled and not self._unrecorded and not self._to_hand_back

    async def _hand_back(self, row_id: int) -> None:
        """Give back a claim taken at store time (see `_attempt`); later if the database is away."""
        try:
            async with self.db.session() as session:
                await inbound_store.hand_back(session, row_id, self.owner)
        except Exception as exc:
            log.warning("handing back update %s failed: %s: %s", row_id, type(exc).__name__, exc)
            self._to_hand_back.add(row_id)

    async def _claim_one(self, row_id: int) -> int | None:
        """Claim one stored update for this worker; its attempt number, or None when it is not claimable now."""
        async with self.db.session() as session:
            return await inbound_store.claim_update(
                session,
                row_id,
                owner=self.owner,
                now=self.clock(),
                lease_seconds=self.settings.inbound_lease_seconds,
            )

    def _wait_for_turn(self, row_id: int, channel: InboundChannel, checked: Checked) -> None:
        """Keep an update refused at store for the follow-up polls (while it is held), and have them start."""
        key = f"{channel.platform}:{checked.chat}"
        if row_id not in self._waiting:
            bisect.insort(self._kept_by_chat.setdefault(key, []), row_id)
        self._waiting[row_id] = (asyncio.get_running_loop().time(), key)
        self._read[row_id] = checked
        if len(self._read) > MAX_WAITING:
            del self._read[next(iter(self._read))]  # the oldest: a dict keeps the order of its keys
        self._forget_old_waiting()
        self._follow_up()

    def _stop_waiting(self, row_id: int) -> Checked | None:
        """Forget an update kept for its turn (claimed now, or kept too long); it as read, if that was kept."""
        waiting = self._waiting.pop(row_id, None)
        if waiting is not None:
            key = waiting[1]
            kept = self._kept_by_chat[key]
            kept.remove(row_id)
            if not kept:
                del self._kept_by_chat[key]
        return self._read.pop(row_id, None)

    def _forget_old_waiting(self) -> None:
        """Drop the updates kept past their hold: the walk over the chats takes them instead (or another worker took
        them already). Each is handed back at the next sweep: one claimed at store behind a kept one (not merely
        held) would otherwise wait for its lease to end."""
        since = asyncio.get_running_loop().time() - FOLLOW_UP_SECONDS
        while self._waiting and next(iter(self._waiting.values()))[0] < since:
            row_id = next(iter(self._waiting))  # the oldest first
            self._stop_waiting(row_id)
            self._to_hand_back.add(row_id)

    def _walk_due(self) -> bool:
        """Whether the next sweep walks over the chats' heads: always, except in the follow-up polls, which claim
        only the updates waiting here (by id) and walk once a poll interval, or again after a walk took some."""
        if self._walk_again or self._walked_at is None or not self._following_up():
            return True
        return asyncio.get_running_loop().time() - self._walked_at >= self.settings.inbound_poll_seconds

    def _follow_up(self) -> None:
        """An update waits behind its chat's pending one (perhaps another worker's): the loop looks again soon."""
        self._refused_at = asyncio.get_running_loop().time()
        self._wake.set()

    def _following_up(self) -> bool:
        """Whether a claim was refused lately (FOLLOW_UP_SECONDS): the refused update may soon become claimable."""
        return self._refused_at is not None and asyncio.get_running_loop().time() - self._refused_at < FOLLOW_UP_SECONDS

    def _poll_wait(self) -> float:
        """How long the idle loop waits before its next sweep: briefly while a refused update may be about to become
        claimable, INBOUND_POLL_SECONDS otherwise."""
        if self._following_up():
            return min(FOLLOW_UP_POLL_SECONDS, self.settings.inbound_poll_seconds)
        return self.settings.inbound_poll_seconds

    def retry_delay(self, attempts: int) -> timedelta:
        """How long a failed update waits before its next attempt: INBOUND_RETRY_SECONDS, doubled each time."""
        seconds = self.settings.inbound_retry_seconds * 2 ** max(0, attempts - 1)
        return timedelta(seconds=min(seconds, MAX_RETRY_SECONDS))

    async def _settle(self, row_id: int, failure: Failure) -> None:
        """Record a failed attempt; when the database is away too, remember it and record it on a later sweep."""
        try:
            await self._record_failure(row_id, failure)
        except Exception as exc:
            log.warning("recording the failure of update %s failed: %s: %s", row_id, type(exc).__name__, exc)
            self._unrecorded[row_id] = failure

    async def _record_failure(self, row_id: int, failure: Failure) -> None:
        """Hand the update back for a later attempt, or park it after the last one and tell the sender, once."""
        now = self.clock()
        async with self.db.session() as session:
            if failure.attempts < self.settings.inbound_max_attempts:
                retry_at = now + self.retry_delay(failure.attempts)
                await inbound_store.release_update(
                    session, row_id, self.owner, failure.error, retry_at, failure.attempts
                )
                return
            if not await inbound_store.finish_update(
                session, row_id, failure.error, owner=self.owner, now=self.clock()
            ):
                return  # another worker took it over meanwhile: its outcome counts
            event, channel = failure.checked.event, failure.channel
            parsed = self.router.parse(event) if isinstance(event, IncomingMessage) else None
            if event is not None and parsed is not None:
                # Nothing of the update was kept: a command's sender hears so, once (the dedupe key is the
                # update's, so an update the operator retries and that fails again is not announced twice).
                reply = Reply(text=INTERNAL_ERROR_TEXT.format(name=parsed.name))
                await self._enqueue(session, event, [reply], f"{channel.platform}:{failure.checked.key}", "failed")
        log.error(
            "%s update %s parked after %d attempt(s): %s", channel.platform, row_id, failure.attempts, failure.error
        )
        if self.metrics is not None:
            self.metrics.errors.labels("inbound_parked").inc()

    def submit(self, channel: InboundChannel, row_id: int, checked: Checked, claimed_at_store: bool) -> None:
        """Process a stored update in the background (the webhook answers without waiting): at once when this
        worker claimed it at store time; otherwise (an earlier update of its chat was pending) after the updates
        of its chat this worker holds, if its turn has come by then."""
        task = asyncio.create_task(self.process(channel, row_id, checked, claimed_at_store=claimed_at_store))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def receive(self, channel: InboundChannel, body: object) -> None:
        """Check, store, then process inline (polling loops, which have no request to answer).

        An update that cannot be stored (a field wider than its column) is logged and skipped: a webhook would
        answer it 400, and retrying it could only fail again.
        """
        checked = channel.check(body)
        reason = unstorable(checked)
        if reason is not None:
            log.warning("%s update skipped, it cannot be stored: %s", channel.platform, reason)
            return
        row = await self._store_one(channel, checked, claim=True)
        if row is not None and row.id is not None:
            await self.process(channel, row.id, checked, claimed_at_store=row.claimed_by is not None)

    async def drain(self) -> None:
        """Wait for every background processing task (shutdown, tests)."""
        while self._tasks or (self._storer is not None and not self._storer.done()):
            if self._storer is not None and not self._storer.done():
                await asyncio.gather(self._storer, return_exceptions=True)
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------------ the processing loop

    async def sweep(self, walk: bool = True) -> int:
        """One round of the loop: record failures the database missed, then claim the due updates (the oldest
        pending one of each chat) and process them; returns how many were claimed. Raises when the database is
        away. Without `walk`, only the updates refused at store here and waiting for their turn are looked at."""
        for row_id, failure in list(self._unrecorded.items()):
            await self._record_failure(row_id, failure)
            del self._unrecorded[row_id]
        for row_id in list(self._to_hand_back):
            async with self.db.session() as session:
                await inbound_store.hand_back(session, row_id, self.owner)
            self._to_hand_back.discard(row_id)
        self._forget_old_waiting()
        if not self.channels or not (walk or self._waiting):
            return 0
        rows = await self._claim_due(walk)
        attempts = []
        for row in rows:
            channel = self.channels[row.platform]
            assert row.id is not None
            kept = self._stop_waiting(row.id)
            self._to_hand_back.discard(row.id)  # forgotten, then taken by this worker's walk: it is this run's now
            try:
                # Read again only when this worker did not keep it as the webhook read it.
                checked = kept if kept is not None else channel.check(json.loads(row.body))
            except (ValueError, RecursionError) as exc:
                # Stored by an older version, or a channel that became stricter: no attempt can ever read it.
                unreadable = Checked(body={}, key=row.update_key, chat=row.chat_key or "", event=None)
                failure = Failure(channel, unreadable, self.settings.inbound_max_attempts, f"unreadable: {exc}")
                await self._settle(row.id, failure)
                self._release_loop_hold(f"{row.platform}:{row.chat_key}", row.id)
                continue
            if row.attempts > self.settings.inbound_max_attempts:
                # The last attempt never reported back (its worker stopped mid-way): park, do not run it again.
                error = row.error or "tiến trình xử lý đã dừng giữa chừng"
                await self._settle(row.id, Failure(channel, checked, row.attempts, error))
                self._release_loop_hold(f"{row.platform}:{row.chat_key}", row.id)
                continue
            attempts.append(self._attempt(channel, row.id, checked, row.attempts, from_loop=True))
        await asyncio.gather(*attempts)
        return len(rows)

    async def _claim_due(self, walk: bool) -> list[InboundUpdate]:
        """Claim, in one transaction, the updates kept here whose turn has come and, with `walk`, the due heads of
        every chat (up to SWEEP_BATCH in all)."""
        lease = self.settings.inbound_lease_seconds
        async with self.db.session() as session:
            # Of each chat the first update kept: only a chat's oldest pending update can be claimed. Listing every
            # one kept probed hundreds of rows per poll in a burst's backlog.
            rows = await inbound_store.claim_listed(
                session,
                [kept[0] for kept in self._kept_by_chat.values()],
                owner=self.owner,
                now=self.clock(),
                lease_seconds=lease,
            )
            if walk and len(rows) < SWEEP_BATCH:
                walked = await inbound_store.claim_updates(
                    session,
                    owner=self.owner,
                    platforms=list(self.channels),
                    now=self.clock(),
                    lease_seconds=lease,
                    limit=SWEEP_BATCH - len(rows),
                )
                self._walked_at, self._walk_again = asyncio.get_running_loop().time(), bool(walked)
                rows += walked
            # Before the claim commits: a fast-path update of the same chat claimed after it must see it.
            for row in rows:
                self._loop_held.setdefault(f"{row.platform}:{row.chat_key}", set()).add(row.id or 0)
        return rows

    async def recover(self) -> int:
        """Sweep until nothing is claimable now (a backlog after a stop, tests); returns how many were taken."""
        count = 0
        while taken := await self.sweep():
            count += taken
        return count

    async def run(self, stop: asyncio.Event) -> None:
        """The processing loop every worker runs until `stop`: whatever is pending, due and unclaimed, it processes
        (an update stored while the database was away, a retry whose backoff is over, a dead worker's claim)."""
        away = False
        backoff = Backoff(self.settings.inbound_poll_seconds, self.settings.loop_backoff_max_seconds)
        while True:  # one sweep at least, even when stopped at once: what a previous run left is taken at start
            wait = self._poll_wait()
            try:
                taken = await self.sweep(walk=self._walk_due())
            except Exception as exc:
                taken = 0
                wait = backoff.next()
                if not is_outage(exc):
                    log.exception("inbound queue: a sweep failed; retrying in %.1f s", wait)
                elif not away:
                    log.warning(
                        "inbound queue: database unreachable (%s); retrying with backoff up to %g s",
                        describe(exc),
                        self.settings.loop_backoff_max_seconds,
                    )
                if not away and self.metrics is not None:
                    self.metrics.errors.labels("inbound_loop").inc()
                away = True
                if self.health is not None:
                    # Failures the database missed are work due; otherwise what the last sweep knew stays.
                    self.health.failed(LOOP_NAME, exc, due=True if self._unrecorded else None)
            else:
                if away:
                    log.warning("inbound queue: database reachable again")
                away = False
                backoff.reset()
                if self.health is not None:
                    self.health.progress(LOOP_NAME, due=bool(taken))
            if stop.is_set():
                return
            if taken:
                continue  # the next update of each chat just became claimable
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            self._wake.clear()
            if stop.is_set():
                return  # stopped while idle: no extra round on the way out

    def start(self) -> Callable[[], Awaitable[None]]:
        """Start the processing loop in the background; returns the coroutine function that stops it."""
        stop = asyncio.Event()
        # Under the supervisor: should the loop ever end on its own (a bug), it is started again, not lost.
        backoff = Backoff(1.0, self.settings.loop_backoff_max_seconds)
        task = asyncio.create_task(supervise(LOOP_NAME, lambda: self.run(stop), stop, self.health, backoff))

        async def halt() -> None:
            stop.set()
            self._wake.set()
            await asyncio.gather(task, return_exceptions=True)

        return halt
