"""Helpers for the activity logging tests: a bound group with a member in a team."""

from __future__ import annotations

import re

from tests.helpers import ChatHarness, FakeClock, Tree, build_tree, join_code
from tocns.app import BotApp
from tocns.core.roles import Role

LEADER = "9"
MEMBER = "1"
OTHER_MEMBER = "2"


async def setup_group(app: BotApp, chat: ChatHarness, clock: FakeClock) -> Tree:
    """Bind group-1 to commune X1 (user 9 leads it); Lan (1) and Hùng (2) join Thôn 3."""
    async with app.db.session() as session:
        tree = await build_tree(session)
        code = await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock())
    assert "Đã kết nối" in await chat.text(f"/ketnoi {code}", user=LEADER, name="Chủ tịch Bình")
    assert "đã tham gia" in await chat.text("/thamgia thon 3", user=MEMBER, name="Lan")
    assert "đã tham gia" in await chat.text("/thamgia thon 3", user=OTHER_MEMBER, name="Hùng")
    return tree


def record_id(reply: str) -> int:
    """The record id echoed in a /ghi receipt."""
    match = re.search(r"Đã ghi #(\d+)", reply)
    assert match, reply
    return int(match.group(1))


def echoed_quantities(reply: str) -> list[int]:
    """The quantities listed in a receipt ('- name (code): 5 người')."""
    return [int(q) for q in re.findall(r"^- .+\(\w+\): (\d+) ", reply, re.MULTILINE)]
