"""Platform-shaped test data: settings pointing at the fake servers, Telegram and Zalo update bodies, a web client."""

from __future__ import annotations

import itertools
import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, select

from tests.factories import RunningClock, build_tree, join_code
from tests.fakes import telegram_server, zalo_api
from tocns.app import BotApp, sender_hooks
from tocns.channels.base import Transport
from tocns.channels.telegram import TelegramChannel, make_bot
from tocns.channels.zalo import ZaloApi, ZaloChannel
from tocns.config import Settings
from tocns.core.roles import Role
from tocns.features.activity.models import ActivityItem, ActivityRecord
from tocns.inbound.models import InboundUpdate
from tocns.outbox.models import OutboxMessage
from tocns.outbox.sender import OutboxSender, PlatformLimits
from tocns.web.app import create_app

TG_SECRET = "tg-secret-AbC123"
ZALO_SECRET = "zalo-secret-XyZ789"
TG_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ZALO_HEADER = "X-Bot-Api-Secret-Token"

_ids = itertools.count(5000)


def platform_settings(settings: Settings, tmp_path: Path) -> Settings:
    """Test settings with both platforms configured against the fakes."""
    return settings.model_copy(
        update={
            "telegram_bot_token": telegram_server.TOKEN,
            "telegram_webhook_secret": TG_SECRET,
            "telegram_api_base_url": telegram_server.BASE,
            "zalo_bot_token": zalo_api.TOKEN,
            "zalo_webhook_secret": ZALO_SECRET,
            "zalo_api_base_url": zalo_api.BASE,
            "files_dir": str(tmp_path / "files"),
            "public_base_url": "https://bot.example.vn",
            "polling_timeout_seconds": 1,
        }
    )


def platform_app(app: BotApp, settings: Settings) -> BotApp:
    """The test bot re-wired with platform settings (same database and clock)."""
    return BotApp.build(settings, app.db, app.clock)


def tg_user(user_id: int = 11, first: str = "Lan", last: str = "Nguyễn") -> dict[str, Any]:
    """A Telegram user object."""
    return {"id": user_id, "is_bot": False, "first_name": first, "last_name": last, "username": f"user{user_id}"}


def tg_chat(chat_id: int = -1001, title: str = "Xã Tân Lập - Tổ CNS") -> dict[str, Any]:
    """A Telegram group chat object (private when chat_id > 0)."""
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Lan"}
    return {"id": chat_id, "type": "supergroup" if chat_id < -1000000000000 else "group", "title": title}


def tg_message_update(
    text: str | None = None,
    *,
    chat_id: int = -1001,
    user_id: int = 11,
    update_id: int | None = None,
    message_id: int | None = None,
    caption: str | None = None,
    photo: bool = False,
    edited: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Telegram update carrying a message (or an edited message)."""
    message: dict[str, Any] = {
        "message_id": message_id or next(_ids),
        "date": 1795000000,
        "chat": tg_chat(chat_id),
        "from": tg_user(user_id),
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    if caption is not None:
        message["caption"] = caption
    if photo:
        message["photo"] = [
            {"file_id": "small-id", "file_unique_id": "s", "width": 90, "height": 90},
            {"file_id": "large-id", "file_unique_id": "l", "width": 1280, "height": 960},
        ]
    if edited:
        message["edit_date"] = 1795000100
    message.update(extra or {})
    return {"update_id": update_id or next(_ids), "edited_message" if edited else "message": message}


def tg_member_update(chat_id: int, old: str, new: str, update_id: int | None = None) -> dict[str, Any]:
    """A my_chat_member update: the bot's status in a group changed from `old` to `new`."""
    bot = {"id": 999, "is_bot": True, "first_name": "Tổ CNS", "username": "ToCNSBot"}
    new_member: dict[str, Any] = {"status": new, "user": bot}
    if new == "kicked":
        new_member["until_date"] = 0
    if new == "administrator":
        # Every right Telegram lists for an administrator (the bot made admin when it was added).
        rights = [
            "can_be_edited",
            "is_anonymous",
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
        ]
        new_member.update({right: right != "is_anonymous" and right != "can_be_edited" for right in rights})
    return {
        "update_id": update_id or next(_ids),
        "my_chat_member": {
            "chat": tg_chat(chat_id),
            "from": tg_user(),
            "date": 1795000000,
            "old_chat_member": {"status": old, "user": bot},
            "new_chat_member": new_member,
        },
    }


def zalo_update(
    text: str,
    *,
    chat_id: str = "zgroup-1",
    user_id: str = "zuser-11",
    message_id: str | None = None,
    private: bool = False,
    is_bot: bool = False,
    wrapped: bool = True,
    name: str = "Nguyễn Lan",
) -> dict[str, Any]:
    """A Zalo text message update, wrapped in {ok, result} or bare."""
    update = {
        "event_name": "message.text.received",
        "message": {
            "message_id": message_id or f"zm-{next(_ids)}",
            "from": {"id": user_id, "display_name": name, "is_bot": is_bot},
            "chat": {"id": chat_id, "chat_type": "PRIVATE" if private else "GROUP"},
            "date": 1795000000000,
            "text": text,
        },
    }
    return {"ok": True, "result": update} if wrapped else update


def channels_for(
    app: BotApp, tg: telegram_server.TelegramServer | None, zalo: zalo_api.FakeZaloApi
) -> tuple[TelegramChannel, ZaloChannel]:
    """Both channels talking to the fakes (Telegram to a running fake server; with None, to a closed port, for
    tests that only translate Telegram updates and must fail loudly if the bot calls Telegram)."""
    api = ZaloApi(app.settings.zalo_api_base_url, app.settings.zalo_bot_token, zalo.client())
    bot = make_bot(
        app.settings.model_copy(update={"telegram_api_base_url": tg.base_url if tg else "http://127.0.0.1:9"})
    )
    return TelegramChannel(app.settings, app.router, bot=bot), ZaloChannel(app.settings, app.router, api=api)


@asynccontextmanager
async def web(app: BotApp, channels: list[Any]) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """An HTTP client on the web app, and the app (its state holds the inbound pipeline)."""
    web_app = create_app(app.settings, bot_app=app, channels=channels)
    transport = httpx.ASGITransport(app=web_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, web_app
    await web_app.state.pipeline.drain()


async def outbox(app: BotApp, chat_id: str | None = None) -> list[OutboxMessage]:
    """Outbox rows, oldest first, optionally of one chat."""
    async with app.db.session() as session:
        query = select(OutboxMessage).order_by(col(OutboxMessage.id))
        if chat_id is not None:
            query = query.where(OutboxMessage.chat_id == chat_id)
        return list((await session.exec(query)).all())


async def inbound_rows(app: BotApp) -> list[InboundUpdate]:
    """Stored inbound updates, oldest first."""
    async with app.db.session() as session:
        return list((await session.exec(select(InboundUpdate).order_by(col(InboundUpdate.id)))).all())


def e2e_settings(settings: Settings, tmp_path: Path, telegram_base: str) -> Settings:
    """Both platforms configured; Telegram pointed at a real local fake server; a fast-polling sender."""
    return platform_settings(settings, tmp_path).model_copy(
        update={"telegram_api_base_url": telegram_base, "outbox_poll_seconds": 0.05, "telegram_request_timeout": 3}
    )


def sender(app: BotApp, transports: dict[str, Transport]) -> OutboxSender:
    """A sender on the test database with generous limits (the limits have their own tests)."""
    limits = {name: PlatformLimits.build(30, 20, 1) for name in transports}
    hooks = sender_hooks()
    return OutboxSender(app.db, app.settings, transports, clock=RunningClock(app.clock), limits=limits, hooks=hooks)


async def post_telegram(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """POST one Telegram update to the webhook; it must be accepted."""
    response = await client.post("/webhook/telegram", json=body, headers={TG_HEADER: TG_SECRET})
    assert response.status_code == 200, response.text


async def post_zalo(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """POST one Zalo update to the webhook; it must be accepted."""
    response = await client.post("/webhook/zalo", json=body, headers={ZALO_HEADER: ZALO_SECRET})
    assert response.status_code == 200, response.text


async def commune_join_code(app: BotApp) -> str:
    """Build the test tree and return a commune-leader join code for Xã Tân Lập."""
    async with app.db.session() as session:
        tree = await build_tree(session)
        return await join_code(session, tree.commune, Role.COMMUNE_LEADER, app.clock())


async def logged_quantities(app: BotApp) -> list[tuple[str, str, int]]:
    """(platform, chat, quantity) of every stored /ghi item."""
    async with app.db.session() as session:
        query = select(ActivityRecord.platform, ActivityRecord.chat_id, ActivityItem.quantity).join(
            ActivityItem, col(ActivityItem.record_id) == col(ActivityRecord.id)
        )
        return [(p, c, q) for p, c, q in (await session.exec(query)).all()]


def stop_tocns(proc: subprocess.Popen[bytes], timeout: float = 20) -> str:
    """Stop a `tocns` subprocess as Ctrl-C would (killing it if it hangs); its stderr."""
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err.decode()
