"""Every registered command, fed random and extreme arguments (huge numbers, far dates, long text, odd Unicode,
control characters) through the pipeline, answers with a reply and never fails: no update is retried or parked.

Runs on SQLite and, in CI's PostgreSQL pass, on PostgreSQL, where column widths and 32-bit ids are enforced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.factories import LEADER, MEMBER, ChatHarness, FakeClock, join_code, setup_group
from tests.fakes.platforms import (
    TG_HEADER,
    TG_SECRET,
    channels_for,
    commune_join_code,
    inbound_rows,
    outbox,
    platform_app,
    platform_settings,
    tg_message_update,
    web,
)
from tests.fakes.telegram_server import TelegramServer
from tests.fakes.zalo_api import FakeZaloApi
from tocns.app import BotApp, build_registry
from tocns.config import Settings
from tocns.core.roles import Role
from tocns.core.router import INTERNAL_ERROR_TEXT
from tocns.inbound.models import InboundState

NOW = "2026-11-25 10:00"  # a Wednesday morning, outside the quiet hours
STAFF = "7"

EXTREME_WORDS = [
    "0",
    "-1",
    "2147483647",
    "2147483648",
    "9223372036854775808",
    "9" * 40,
    "#99999999999",
    "1e308",
    "NaN",
    "²",
    "١٢",  # Arabic-Indic digits
    "１２",  # full-width digits
    "31/12/9999",
    "01/01/0001",
    "29/02/2100",
    "00/00",
    "31/02",
    "9999-W52",
    "0001-W01",
    "2025-W53",
    "tháng 12/9999",
    "tháng 13",
    "9999-12-31..9999-12-31",
    "thứ 9",
    "toàn tỉnh",
    "X1",
    "thôn 3",
    "vneid",
    "@ToCNSBot",
    "@" + "u" * 200,
    "\u202e",  # right-to-left override
    "\u200b",  # zero-width space
    "e\u0301\u0301\u0301",  # stacked combining marks
    "👩‍👩‍👧‍👦",
    "\x00",
    "\x1b[31m",
    "\r\n",
    "\t",
    ":",
    ",",
    "'; DROP TABLE person; --",
    "%s%n",
]

words = st.one_of(
    st.sampled_from(EXTREME_WORDS),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(max_size=12),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6),
)
long_text = st.builds(lambda ch, n: ch * n, st.sampled_from(["x", "ầ", "9", ", X1", " ", "/"]), st.integers(1, 4100))
arguments = st.one_of(
    st.sampled_from(EXTREME_WORDS),  # alone: where a period, a date or an id is the whole argument
    st.tuples(st.sampled_from(EXTREME_WORDS), words).map(" ".join),
    st.tuples(words, st.sampled_from(EXTREME_WORDS), words).map(" ".join),
    st.lists(words, max_size=8).map(" ".join),
    st.lists(words, max_size=6).map(", ".join),
    st.tuples(st.lists(words, max_size=3).map(" ".join), st.lists(words, max_size=3).map(" ".join)).map(": ".join),
    long_text,
)
# Who sends it: the commune leader or a team member in the commune's group, or department staff in private.
senders = st.sampled_from([(LEADER, "group-1", False), (MEMBER, "group-1", False), (STAFF, "p7", True)])

_ready: set[int] = set()


async def _setup(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    """Once per test: the commune group of setup_group, and a staff member of the province in a private chat."""
    if id(app) in _ready:
        return
    tree = await setup_group(app, chat, clock)
    async with app.db.session() as session:
        staff = await join_code(session, tree.province, Role.STAFF, clock())
    assert "Cán bộ Sở" in await chat.text(f"/ketnoi {staff}", user=STAFF, name="Cán bộ Mai", private=True, chat="p7")
    clock.set_local(NOW)
    _ready.add(id(app))


# Every registered command by every name (aliases too).
NAMES = sorted({name for command in build_registry().all() for name in (command.name, *command.aliases)})


@hsettings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.sampled_from(NAMES), args=arguments, sender=senders)
# The cases the audit found (each failed five times and was parked, holding its chat 76 s).
@example(name="baocao", args="9999-W52", sender=(LEADER, "group-1", False))
@example(name="baocao", args="tháng 12/9999", sender=(LEADER, "group-1", False))
@example(name="baocao", args="0001-W01", sender=(LEADER, "group-1", False))
@example(name="cuatoi", args="9999-12", sender=(MEMBER, "group-1", False))
@example(name="ghi", args="31/12/9999 vneid 3", sender=(MEMBER, "group-1", False))
@example(name="chidao", args=", ".join(f"Xã {i}" for i in range(300)) + ": Họp", sender=(STAFF, "p7", True))
async def test_every_command_answers_any_arguments_without_failing(
    app: BotApp, chat: ChatHarness, clock: FakeClock, name: str, args: str, sender: tuple[str, str, bool]
) -> None:
    await _setup(app, chat, clock)
    user, chat_id, private = sender
    text = f"/{name} {args}"
    # Through the pipeline's entry, in one unit of work as a webhook update is. An unexpected error is answered
    # here with the internal-error text; through a webhook the update would be retried, then parked, holding its
    # chat. A refusal is a precise answer instead.
    replies = await chat.send(text, user=user, chat=chat_id, private=private)
    assert replies, text
    failed = INTERNAL_ERROR_TEXT.split("{name}")[0]
    for reply in replies:
        assert reply.text.strip(), text
        assert failed not in reply.text and "Traceback" not in reply.text, text


async def test_extreme_commands_through_the_webhook_park_nothing(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock, tg_server: TelegramServer
) -> None:
    """The worst of the table through the Telegram webhook: every update done at its first attempt, each answered."""
    papp = platform_app(app, platform_settings(settings, tmp_path))
    channels: list[Any] = list(channels_for(papp, tg_server, FakeZaloApi()))
    clock.set_local(NOW)
    messages = [f"/{name}" for name in ("baocao", "cuatoi", "ghi", "giao", "xong", "sua", "xoa", "tinhtrang")]
    messages = [f"{m} {w}" for m in messages for w in ("9999-W52", "31/12/9999 việc", "99999999999", "\u202e١٢")]
    async with web(papp, channels) as (client, web_app):
        for text in messages:
            response = await client.post(
                "/webhook/telegram", json=tg_message_update(text, user_id=11), headers={TG_HEADER: TG_SECRET}
            )
            assert response.status_code == 200, (text, response.text)
            await web_app.state.pipeline.drain()
    rows = await inbound_rows(papp)
    assert [(row.state, row.attempts) for row in rows] == [(InboundState.DONE, 0)] * len(messages)
    assert len(await outbox(papp)) >= len(messages)


_webhook_ready: set[int] = set()


@hsettings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.sampled_from(NAMES), args=arguments, leader=st.booleans())
async def test_random_commands_through_the_webhook_are_done_at_the_first_attempt(
    app: BotApp,
    settings: Settings,
    tmp_path: Path,
    clock: FakeClock,
    tg_server: TelegramServer,
    name: str,
    args: str,
    leader: bool,
) -> None:
    """The durable path itself: stored, processed once, answered; never retried or parked."""
    papp = platform_app(app, platform_settings(settings, tmp_path))
    channels: list[Any] = list(channels_for(papp, tg_server, FakeZaloApi()))
    headers = {TG_HEADER: TG_SECRET}
    async with web(papp, channels) as (client, web_app):
        if id(app) not in _webhook_ready:
            code = await commune_join_code(papp)
            for text, user in [(f"/ketnoi {code}", 9), ("/thamgia thon 3", 11)]:
                await client.post("/webhook/telegram", json=tg_message_update(text, user_id=user), headers=headers)
                await web_app.state.pipeline.drain()
            clock.set_local(NOW)
            _webhook_ready.add(id(app))
        before = len(await outbox(papp))
        body = tg_message_update(f"/{name} {args}", user_id=9 if leader else 11)
        response = await client.post("/webhook/telegram", json=body, headers=headers)
        await web_app.state.pipeline.drain()
    if response.status_code == 400:
        return  # refused at intake (e.g. a lone surrogate), nothing stored: nothing can be parked
    assert response.status_code == 200, response.text
    last = (await inbound_rows(papp))[-1]
    assert (last.state, last.attempts, last.error) == (InboundState.DONE, 0, None), (name, args)
    assert len(await outbox(papp)) > before, (name, args)
