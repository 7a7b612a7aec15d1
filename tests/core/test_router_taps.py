"""A tapped button's command through the router: the same permission check as typed, refusals marked as such."""

from __future__ import annotations

from tests.factories import LEADER, MEMBER, ChatHarness, FakeClock, setup_group
from tocns.app import BotApp
from tocns.core.messages import IncomingMessage


def _tap(text: str, user: str, name: str, query: str) -> IncomingMessage:
    return IncomingMessage(
        platform="console",
        chat_id="group-1",
        user_id=user,
        display_name=name,
        text=text,
        message_id=f"tap:{query}",
        addressed_to_bot=True,
        tap=True,
    )


async def test_a_tap_is_refused_to_a_stranger_and_runs_for_a_member_as_if_typed(
    app: BotApp, chat: ChatHarness, clock: FakeClock
) -> None:
    await setup_group(app, chat, clock)
    given = await chat.text("/giaoviec 30/11 Rà soát hộ nghèo tất cả", user=LEADER)
    assert "#1" in given
    [refusal] = await app.pipeline.handle(_tap("/xong 1", "77", "Khách", "q1"))
    assert refusal.refused and "không có quyền" in refusal.text
    [done] = await app.pipeline.handle(_tap("/xong 1", MEMBER, "Lan", "q2"))
    assert not done.refused and done.text.startswith("Đã ghi nhận Thôn 3 hoàn thành việc #1"), done.text
    # The same tap delivered again does nothing a second time.
    assert await app.pipeline.handle(_tap("/xong 1", MEMBER, "Lan", "q2")) == []
    # Bad input from a tap is a refusal too (nothing kept).
    [bad] = await app.pipeline.handle(_tap("/xong 99", MEMBER, "Lan", "q3"))
    assert bad.refused, bad.text
