"""/huongdan and /start (the guide): each person sees the commands their role allows, in the chat they are in."""

from __future__ import annotations

from tests.factories import LEADER, MEMBER, ChatHarness, FakeClock, setup_group
from tocns.app import BotApp, build_registry
from tocns.core.permissions import GUEST


async def test_help_for_other_bot_is_ignored(chat: ChatHarness) -> None:
    assert await chat.send("/huongdan@OtherBot") == []
    assert "Các lệnh bạn dùng được" in await chat.text("/huongdan@ToCNSBot")


async def test_help_lists_only_allowed_commands(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_group(app, chat, clock)
    member_help = await chat.text("/huongdan", user=MEMBER)
    leader_help = await chat.text("/huongdan", user=LEADER)
    assert "/vaitro" not in member_help
    assert "/vaitro" in leader_help
    for cmd in build_registry().available_to({GUEST, "member"}):
        assert f"/{cmd.name}" in member_help


async def test_private_start_greets(chat: ChatHarness) -> None:
    reply = await chat.text("/start", private=True, name="Lan")
    assert reply.startswith("Xin chào Lan")
