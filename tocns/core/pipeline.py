"""Inbound pipeline shared by webhooks and polling: store the update first, then process it."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Protocol

from tocns.app import BotApp
from tocns.core.delivery import StoredUpdate, current_update
from tocns.core.messages import Reply
from tocns.inbound import store as inbound_store

log = logging.getLogger(__name__)

# Updates arriving while a batch is being written wait for the next one; this caps one INSERT's size.
MAX_STORE_BATCH = 200
# Updates processed at once in one process. With hundreds of busy chats, one task per chat would each want a
# database connection: the pool would open and close extra connections, then time out. Below the pool size,
# so the intake, the sender and the scheduler always find a connection.
PROCESSING_SLOTS = 8


class PlatformAdapter(Protocol):
    """What the pipeline needs from a platform adapter."""

    platform: str

    def check(self, body: object) -> dict[str, Any]:
        """Validate a body (raise ValueError) and return the update to store."""
        ...

    def update_key(self, update: dict[str, Any]) -> str:
        """The key that identifies a redelivery of the same update."""
        ...

    def chat_key(self, update: dict[str, Any]) -> str:
        """The chat an update belongs to: updates of one chat are processed one at a time, in order."""
        ...

    async def handle_update(self, body: dict[str, Any]) -> list[Reply]:
        """Process one stored update."""
        ...


class Inbound:
    """Stores each update once, processes it off the request path, and counts what happens."""

    def __init__(self, app: BotApp) -> None:
        self.app = app
        self.adapters: dict[str, PlatformAdapter] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self._chat_users: dict[str, int] = {}
        self.metrics: Any = None
        self._to_store: list[tuple[PlatformAdapter, dict[str, Any], asyncio.Future[bool]]] = []
        self._storer: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(PROCESSING_SLOTS)

    def add(self, adapter: PlatformAdapter) -> None:
        """Register a platform adapter."""
        self.adapters[adapter.platform] = adapter

    async def store(self, adapter: PlatformAdapter, update: dict[str, Any]) -> int | None:
        """Store a checked update; the row id, or None for a redelivery already stored."""
        async with self.app.db.session() as session:
            row = await inbound_store.store_update(
                session, adapter.platform, adapter.update_key(update), update, now=self.app.clock()
            )
        if self.metrics is not None:
            self.metrics.updates_received.labels(adapter.platform, "new" if row else "duplicate").inc()
        return row.id if row is not None else None

    async def accept(self, adapter: PlatformAdapter, update: dict[str, Any]) -> bool:
        """Store a checked webhook update and start processing it; False for a redelivery already stored.

        Updates that arrive together are written in one INSERT (one transaction) instead of one each, and the
        storing task, not the request, starts the processing: a request cancelled after the write cannot leave a
        stored update unprocessed.
        """
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._to_store.append((adapter, update, done))
        if self._storer is None or self._storer.done():
            self._storer = asyncio.create_task(self._store_batches())
        return await done

    async def _store_batches(self) -> None:
        while self._to_store:
            batch, self._to_store = self._to_store[:MAX_STORE_BATCH], self._to_store[MAX_STORE_BATCH:]
            await self._write(batch)

    async def _write(self, batch: list[tuple[PlatformAdapter, dict[str, Any], asyncio.Future[bool]]]) -> None:
        try:
            async with self.app.db.session() as session:
                row_ids = await inbound_store.store_updates(
                    session, [(a.platform, a.update_key(u), u) for a, u, _ in batch], now=self.app.clock()
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
        for (adapter, update, done), row_id in zip(batch, row_ids, strict=True):
            if self.metrics is not None:
                self.metrics.updates_received.labels(adapter.platform, "new" if row_id else "duplicate").inc()
            if row_id is not None:
                self.submit(adapter, row_id, update)
            if not done.done():
                done.set_result(row_id is not None)

    async def process(self, adapter: PlatformAdapter, row_id: int, update: dict[str, Any]) -> None:
        """Process a stored update and record the outcome; never raises."""
        error = None
        stored = StoredUpdate(row_id)
        token = current_update.set(stored)
        key = f"{adapter.platform}:{adapter.chat_key(update)}"
        lock = self._chat_locks.setdefault(key, asyncio.Lock())
        self._chat_users[key] = self._chat_users.get(key, 0) + 1
        try:
            # One chat's messages run in arrival order, as its members typed them; chats run in parallel.
            async with lock, self._slots:
                await adapter.handle_update(update)
        except Exception as exc:
            log.exception("processing %s update %s failed", adapter.platform, row_id)
            error = f"{type(exc).__name__}: {exc}"
            if self.metrics is not None:
                self.metrics.errors.labels("process").inc()
        finally:
            current_update.reset(token)
            self._chat_users[key] -= 1
            if not self._chat_users[key]:
                del self._chat_users[key], self._chat_locks[key]
        if stored.marked and error is None:
            return
        try:
            async with self.app.db.session() as session:
                await inbound_store.finish_update(session, row_id, error)
        except Exception:
            log.exception("could not mark %s update %s processed", adapter.platform, row_id)

    def submit(self, adapter: PlatformAdapter, row_id: int, update: dict[str, Any]) -> None:
        """Process in the background: the webhook answers without waiting."""
        task = asyncio.create_task(self.process(adapter, row_id, update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def receive(self, adapter: PlatformAdapter, update: dict[str, Any]) -> None:
        """Store then process inline (polling loops, which have no request to answer)."""
        row_id = await self.store(adapter, update)
        if row_id is not None:
            await self.process(adapter, row_id, update)

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
        started = self.app.clock()
        count = after = 0
        while True:
            async with self.app.db.session() as session:
                rows = await inbound_store.pending_updates(session, after_id=after, received_before=started)
            if not rows:
                return count
            for row in rows:
                after = row.id or after
                adapter = self.adapters.get(row.platform)
                if adapter is not None and row.id is not None:
                    await self.process(adapter, row.id, json.loads(row.body))
                    count += 1
