"""One-time join codes stay one-time when many people redeem the same code at the same moment."""

from __future__ import annotations

import asyncio

from sqlmodel import func, select

from tests.factories import build_tree, join_code
from tocns.app import BotApp
from tocns.core.messages import ChatType, IncomingMessage
from tocns.core.roles import Role
from tocns.features.org.models import ChatBinding, JoinCode, Membership


def _connect(code: str, n: int) -> IncomingMessage:
    return IncomingMessage(
        platform="telegram",
        chat_id=f"-100{n}",
        user_id=f"90{n}",
        display_name=f"Người {n}",
        text=f"/ketnoi {code}",
        message_id=f"m{n}",
        chat_type=ChatType.GROUP,
    )


async def test_same_code_redeemed_by_ten_people_at_once_binds_exactly_one_group(app: BotApp) -> None:
    # SQLite serialises writers, so there the race cannot happen; on PostgreSQL it did (66 uses of 20 codes).
    async with app.db.session() as session:
        tree = await build_tree(session)
        code = await join_code(session, tree.commune, Role.COMMUNE_LEADER, app.clock())
    for _round in range(3):  # a few rounds so the race is hit rather than hoped for
        async with app.db.session() as session:
            fresh = await join_code(session, tree.commune, Role.COMMUNE_LEADER, app.clock())
        results = await asyncio.gather(*(app.pipeline.handle(_connect(fresh, _round * 10 + n)) for n in range(10)))
        texts = [r[0].text for r in results]
        assert sum("Đã kết nối nhóm này" in t for t in texts) == 1, texts
        assert sum("đã được sử dụng" in t for t in texts) == 9, texts
    async with app.db.session() as session:
        bindings = await session.scalar(select(func.count()).select_from(ChatBinding))
        leaders = await session.scalar(
            select(func.count()).select_from(Membership).where(Membership.role == Role.COMMUNE_LEADER.value)
        )
        unused = (await session.exec(select(JoinCode).where(JoinCode.code == code))).one()
    assert bindings == 3
    assert leaders == 3
    assert unused.used_at is None


async def test_used_expired_and_unknown_codes_keep_their_own_answers(app: BotApp) -> None:
    from datetime import timedelta

    from tests.factories import ChatHarness

    chat = ChatHarness(app)
    async with app.db.session() as session:
        tree = await build_tree(session)
        code = await join_code(session, tree.commune, Role.COMMUNE_LEADER, app.clock())
        short = await join_code(session, tree.commune, Role.MEMBER, app.clock(), ttl=timedelta(hours=1))
    assert "Đã kết nối nhóm này" in await chat.text(f"/ketnoi {code.lower()}", chat="g1")
    assert "đã được sử dụng" in await chat.text(f"/ketnoi {code}", chat="g2")
    app.clock.advance(hours=2)  # type: ignore[attr-defined]
    assert "đã hết hạn" in await chat.text(f"/ketnoi {short}", chat="g3")
    assert "không đúng" in await chat.text("/ketnoi ZZZZZZZZ", chat="g4")
