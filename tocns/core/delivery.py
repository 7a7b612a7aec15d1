"""Replies leave through the outbox: adapters enqueue what the router returns, the sender delivers it."""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.app import BotApp
from tocns.core.messages import Attachment, IncomingMessage, Reply
from tocns.inbound import store as inbound_store
from tocns.outbox.store import enqueue


@dataclass
class StoredUpdate:
    """The inbound row being processed; `marked` once a command transaction has marked it done."""

    row_id: int
    marked: bool = False


# Set by the inbound pipeline while it processes a stored update, so the done-mark commits in the command's own
# transaction (one transaction per update instead of two; a crash cannot leave a handled update "pending").
current_update: ContextVar[StoredUpdate | None] = ContextVar("current_update", default=None)


def save_attachment(files_dir: str, attachment: Attachment) -> Path:
    """Write an attachment under the files directory, named by its content so a retry reuses it."""
    digest = hashlib.sha256(attachment.content).hexdigest()[:16]
    # Absolute, so the sender finds the file whatever directory it was started from.
    folder = Path(files_dir).resolve() / digest
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(attachment.filename).name
    if not path.exists():
        path.write_bytes(attachment.content)
    return path


async def enqueue_replies(app: BotApp, msg: IncomingMessage, replies: list[Reply], key: str) -> int:
    """Enqueue the router's replies (kind="reply"); `key` makes a reprocessed update enqueue nothing twice."""
    if not replies:
        return 0
    async with app.db.session() as session:
        return await enqueue_in(session, app, msg, replies, key)


async def enqueue_in(session: AsyncSession, app: BotApp, msg: IncomingMessage, replies: list[Reply], key: str) -> int:
    """Enqueue replies in the caller's transaction; how many were new (not already enqueued for `key`)."""
    count = 0
    for index, reply in enumerate(replies):
        files = [
            {
                "filename": a.filename,
                "mime_type": a.mime_type,
                "path": str(save_attachment(app.settings.files_dir, a)),
            }
            for a in reply.attachments
        ]
        row = await enqueue(
            session,
            platform=reply.platform or msg.platform,
            chat_id=reply.chat_id or msg.chat_id,
            text=reply.text,
            kind="reply",
            dedupe_key=f"reply:{key}:{index}",
            attachments=files or None,
            now=app.clock(),
        )
        count += row is not None
    return count


async def handle_message(app: BotApp, msg: IncomingMessage, key: str) -> list[Reply]:
    """Run one message through the router; its replies are enqueued in the command's own transaction."""

    async def on_replies(session: AsyncSession, replies: list[Reply]) -> None:
        await enqueue_in(session, app, msg, replies, key)
        stored = current_update.get()
        if stored is not None:
            # Idempotent: the router may call this again in a fresh transaction after a rollback.
            await inbound_store.finish_update(session, stored.row_id)
            stored.marked = True

    return await app.router.handle(msg, on_replies=on_replies)
