"""Helpers for the outbox tests: bound Telegram groups and queued messages."""

from __future__ import annotations

from tocns.core.roles import Level
from tocns.db.engine import Database
from tocns.features.org import store as org_store
from tocns.outbox import store as outbox_store


async def bound_groups(db: Database, count: int, platform: str = "telegram") -> list[str]:
    """Create a province with `count` communes, each with a group bound to it; return the chat ids."""
    chats = []
    async with db.session() as session:
        province = await org_store.create_unit(session, code="P01", name="Tỉnh Thử", level=Level.PROVINCE)
        for i in range(count):
            commune = await org_store.create_unit(
                session, code=f"{i + 1:05d}", name=f"Xã Số {i + 1}", level=Level.COMMUNE, parent=province
            )
            chat_id = str(-1000 - i)
            await org_store.bind_chat(session, platform=platform, chat_id=chat_id, unit=commune, person=None)
            chats.append(chat_id)
    return chats


async def queue(db: Database, chats: list[str], text: str = "Chỉ đạo số {i}", kind: str = "directive") -> None:
    """Queue one message per chat."""
    async with db.session() as session:
        for i, chat in enumerate(chats):
            await outbox_store.enqueue(session, platform="telegram", chat_id=chat, text=text.format(i=i), kind=kind)
