"""What a chat event means for directives: the targets of a moved group follow it (wired in by `tocns.app`)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.messages import ChatEvent, Reply
from tocns.features.directives import store as directive_store


async def chat_migrated(session: AsyncSession, event: ChatEvent, now: datetime) -> list[Reply]:
    """A group moved to a new id: the directives sent there follow it, so acknowledgements typed in the new group
    still find them."""
    if event.new_chat_id is not None:
        await directive_store.move_chat(session, event.platform, event.chat_id, event.new_chat_id)
    return []
