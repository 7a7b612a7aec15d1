"""Issue 16: every text the bot shows writes commands as the chat can send them back, from one place.

A Zalo Bot Platform group only delivers messages that mention the bot, so there `/ghi` reads `@<bot name> ghi`;
in a private chat (and on Telegram) `/ghi` stays. Checked on what the fake Zalo server receives.
"""

from __future__ import annotations

from pathlib import Path

from tests.factories import FakeClock, build_tree, join_code
from tests.fakes.platforms import ZALO_HEADER, ZALO_SECRET, channels_for, platform_app, platform_settings, web
from tests.fakes.platforms import zalo_update as update
from tests.fakes.zalo_api import FakeZaloApi
from tocns.app import BotApp, sender_hooks
from tocns.channels.zalo import ZaloTransport
from tocns.config import Settings
from tocns.core.addressing import address_commands
from tocns.core.roles import Role
from tocns.outbox import store as outbox_store
from tocns.outbox.sender import OutboxSender

BOT = "Bot Tổ CNS Xã Tân Lập"
OK = {ZALO_HEADER: ZALO_SECRET}


async def _conversation(app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock) -> dict[str, list[str]]:
    """A leader binds a Zalo group, a member joins a team, logs and asks for help in the group and privately;
    then the sender drains the outbox to the fake. Returns what each chat received."""
    zalo = FakeZaloApi(known_chats={"zgroup-1", "zuser-11"}, can_join_groups=True, groups={"zgroup-1"})
    papp = platform_app(app, platform_settings(settings, tmp_path).model_copy(update={"zalo_bot_name": BOT}))
    async with papp.db.session() as session:
        tree = await build_tree(session)
        code = await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock())
    async with web(papp, list(channels_for(papp, None, zalo))) as (client, web_app):
        for text in (f"@{BOT} ketnoi {code}", f"@{BOT} thamgia Thôn 3", f"@{BOT} ghi vneid 5", f"@{BOT} huongdan"):
            await client.post("/webhook/zalo", json=update(text), headers=OK)
        await client.post("/webhook/zalo", json=update("/huongdan", chat_id="zuser-11", private=True), headers=OK)
        await web_app.state.pipeline.drain()
    async with papp.db.session() as session:
        note = "Mẫu ở https://x.vn/ghi, a/ghi và /khonglalenh; gõ /ghi vneid 5"
        for chat in ("zgroup-1", "zuser-11"):
            await outbox_store.enqueue(session, platform="zalo", chat_id=chat, text=note, kind="nudge", now=clock())
    transport = ZaloTransport(papp.settings, client=zalo.client(), clock=clock)
    names = papp.registry.names()
    sender = OutboxSender(
        papp.db, papp.settings, {"zalo": transport}, clock=clock, command_names=names, hooks=sender_hooks()
    )
    await sender.drain(until_empty=True)
    received: dict[str, list[str]] = {}
    for sent in zalo.sent():
        received.setdefault(sent["chat_id"], []).append(sent["text"])
    return received


async def test_a_zalo_group_reads_commands_as_mentions_a_private_chat_as_slashes(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    received = await _conversation(app, settings, tmp_path, clock)
    group, private = "\n".join(received["zgroup-1"]), "\n".join(received["zuser-11"])
    # The help and the receipt of /ghi, in the group: each command as the group can send it back.
    assert "Các lệnh bạn dùng được" in group and f"@{BOT} ghi" in group and f"@{BOT} huongdan" in group
    assert f"@{BOT} sua" in group or f"@{BOT} xoa" in group  # the receipt says how to correct the record
    assert "/ghi" not in group.replace("https://x.vn/ghi", "").replace("a/ghi", "")
    # Links, words and what is not a command stay as written.
    assert f"Mẫu ở https://x.vn/ghi, a/ghi và /khonglalenh; gõ @{BOT} ghi vneid 5" in group
    # The private chat delivers every message: commands keep their slash.
    assert "Các lệnh bạn dùng được" in private and "/ghi" in private and f"@{BOT}" not in private
    assert "Mẫu ở https://x.vn/ghi, a/ghi và /khonglalenh; gõ /ghi vneid 5" in private


def test_only_real_commands_at_a_word_start_are_rewritten() -> None:
    names = frozenset({"ghi", "huongdan", "log"})
    text = "/ghi, (/log@ToCNSBot) «/huongdan» https://x/ghi a/ghi /ghi/x /khong /GHI"
    assert address_commands(text, names, "Bot A") == (
        "@Bot A ghi, (@Bot A log) «@Bot A huongdan» https://x/ghi a/ghi /ghi/x /khong @Bot A GHI"
    )
    assert address_commands(text, names, "") == text
