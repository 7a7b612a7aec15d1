"""The inbound pipeline: store each update first, then process it in one session that it owns.

One update is one unit of work: the message's processed-mark, the command's records, its replies in the outbox
and the update's done-mark commit together in one transaction. A channel only translates (`check`); nothing here
knows a platform.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.config import Settings
from tocns.core.files import save_attachment
from tocns.core.messages import ChatEvent, ChatEventKind, InboundEvent, IncomingMessage, Reply
from tocns.core.router import INTERNAL_ERROR_TEXT, Router
from tocns.db.engine import Database
from tocns.inbound import store as inbound_store
from tocns.outbox.store import enqueue

log = logging.getLogger(__name__)

# Updates arriving while a batch is being written wait for the next one; this caps one INSERT's size.
MAX_STORE_BATCH = 200
# Updates processed at once in one process. With hundreds of busy chats, one task per chat would each want a
# database connection: the pool would open and close extra connections, then time out. Below the pool size,
# so the intake, the sender and the scheduler always find a connection.
PROCESSING_SLOTS = 8

EDITED_TEXT = (
    "Bot không xử lý lại tin nhắn đã sửa, nên lệnh vừa sửa chưa được thực hiện lại. "
    "Nếu cần, hãy gửi lệnh đúng thành một tin nhắn mới."
)

EventHandler = Callable[[AsyncSession, ChatEvent, datetime], Awaitable[list[Reply]]]
"""What a feature does with a chat event, inside the update's session (see `tocns.app`)."""


@dataclass(frozen=True)
class Checked:
    """A platform update that passed its channel's checks: the body to store and what it means."""

    body: dict[str, Any]
    key: str  # identifies a redelivery of the same update
    chat: str  # updates of one chat are processed one at a time, in order
    event: InboundEvent | None  # None: nothing for the bot (a sticker, a service message)


class InboundChannel(Protocol):
    """What the pipeline needs from a platform channel: translation only."""

    platform: str

    def check(self, body: object) -> Checked:
        """Validate and translate a body; raises ValueError when it is not an update of this platform."""
        ...

    async def refresh(self, checked: Checked) -> Checked:
        """The update translated again after asking the platform what a synchronous `check` could not (Telegram:
        getMe when the bot joins a group); the same `checked` when nothing needs asking."""
        ...


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
        self._tasks: set[asyncio.Task[None]] = set()
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self._chat_users: dict[str, int] = {}
        self._to_store: list[tuple[InboundChannel, Checked, asyncio.Future[bool]]] = []
        self._storer: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(PROCESSING_SLOTS)

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
        """Process one message typed locally (console, tests): one session, committed once; replies returned."""
        async with self.db.session() as session:
            return await self.router.handle(session, msg)

    async def _enqueue(self, session: AsyncSession, event: InboundEvent, replies: list[Reply], key: str) -> None:
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
            await enqueue(
                session,
                thread_id=topic,
                platform=reply.platform or event.platform,
                chat_id=reply.chat_id or event.chat_id,
                text=reply.text,
                kind="reply",
                dedupe_key=f"reply:{key}:{index}",
                attachments=files or None,
                now=self.clock(),
            )

    async def _run(self, channel: InboundChannel, row_id: int, checked: Checked) -> None:
        # Outside the session: asking the platform (a network call) must not hold a database connection.
        checked = await channel.refresh(checked)
        async with self.db.session() as session:
            # Dispatch comes first in the transaction: a refused command rolls it back (see Router.handle).
            if checked.event is not None:
                replies = await self.dispatch(session, checked.event)
                await self._enqueue(session, checked.event, replies, f"{channel.platform}:{checked.key}")
            await inbound_store.finish_update(session, row_id)

    # ------------------------------------------------------------------ storing and scheduling

    async def store(self, channel: InboundChannel, checked: Checked) -> int | None:
        """Store a checked update; the row id, or None for a redelivery already stored."""
        async with self.db.session() as session:
            row = await inbound_store.store_update(
                session, channel.platform, checked.key, checked.body, now=self.clock()
            )
        if self.metrics is not None:
            self.metrics.updates_received.labels(channel.platform, "new" if row else "duplicate").inc()
        return row.id if row is not None else None

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
        try:
            async with self.db.session() as session:
                row_ids = await inbound_store.store_updates(
                    session, [(c.platform, u.key, u.body) for c, u, _ in batch], now=self.clock()
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
        for (channel, checked, done), row_id in zip(batch, row_ids, strict=True):
            if self.metrics is not None:
                self.metrics.updates_received.labels(channel.platform, "new" if row_id else "duplicate").inc()
            if row_id is not None:
                self.submit(channel, row_id, checked)
            if not done.done():
                done.set_result(row_id is not None)

    async def process(self, channel: InboundChannel, row_id: int, checked: Checked) -> None:
        """Process a stored update and record the outcome; never raises."""
        key = f"{channel.platform}:{checked.chat}"
        lock = self._chat_locks.setdefault(key, asyncio.Lock())
        self._chat_users[key] = self._chat_users.get(key, 0) + 1
        try:
            # One chat's messages run in arrival order, as its members typed them; chats run in parallel.
            async with lock, self._slots:
                await self._run(channel, row_id, checked)
            return
        except Exception as exc:
            log.exception("processing %s update %s failed", channel.platform, row_id)
            error = f"{type(exc).__name__}: {exc}"
            if self.metrics is not None:
                self.metrics.errors.labels("process").inc()
        finally:
            self._chat_users[key] -= 1
            if not self._chat_users[key]:
                del self._chat_users[key], self._chat_locks[key]
        try:
            # Nothing of the update was kept: a command's sender hears so; the update is parked as failed.
            async with self.db.session() as session:
                event = checked.event
                parsed = self.router.parse(event) if isinstance(event, IncomingMessage) else None
                if event is not None and parsed is not None:
                    failure = Reply(text=INTERNAL_ERROR_TEXT.format(name=parsed.name))
                    await self._enqueue(session, event, [failure], f"{channel.platform}:{checked.key}")
                await inbound_store.finish_update(session, row_id, error)
        except Exception:
            log.exception("could not mark %s update %s failed", channel.platform, row_id)

    def submit(self, channel: InboundChannel, row_id: int, checked: Checked) -> None:
        """Process in the background: the webhook answers without waiting."""
        task = asyncio.create_task(self.process(channel, row_id, checked))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def receive(self, channel: InboundChannel, body: object) -> None:
        """Check, store, then process inline (polling loops, which have no request to answer)."""
        checked = channel.check(body)
        row_id = await self.store(channel, checked)
        if row_id is not None:
            await self.process(channel, row_id, checked)

    async def drain(self) -> None:
        """Wait for every background processing task (shutdown, tests)."""
        while self._tasks or (self._storer is not None and not self._storer.done()):
            if self._storer is not None and not self._storer.done():
                await asyncio.gather(self._storer, return_exceptions=True)
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def recover(self) -> int:
        """Process every update stored before now but never processed (a stop in between); returns how many.

        With several workers, one starting may also pick up updates another worker is about to process; the
        message and reply de-duplication make that second run a no-op.
        """
        started = self.clock()
        count = after = 0
        while True:
            async with self.db.session() as session:
                rows = await inbound_store.pending_updates(session, after_id=after, received_before=started)
            if not rows:
                return count
            for row in rows:
                after = row.id or after
                channel = self.channels.get(row.platform)
                if channel is None or row.id is None:
                    continue
                try:
                    checked = channel.check(json.loads(row.body))
                except ValueError as exc:
                    async with self.db.session() as session:
                        await inbound_store.finish_update(session, row.id, f"unreadable: {exc}"[:200])
                    continue
                await self.process(channel, row.id, checked)
                count += 1
