"""Zalo Official Account group chats (GMF): the signed webhook, the group sends and the rotating OAuth v4 tokens,
against the fake OA (tests/fakes/zalo_oa_api.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from tests.factories import FakeClock
from tests.fakes.platforms import commune_join_code, inbound_rows, outbox, sender, web
from tests.fakes.zalo_oa_api import (
    APP_SECRET,
    FIRST_REFRESH,
    GROUP,
    OA_ID,
    OA_LEADER,
    OA_MEMBER,
    SECRET_KEY,
    FakeZaloOa,
    deliver,
    group_text,
    lifecycle,
    oa_echo,
    utf16_len,
)
from tests.fakes.zalo_oa_bot import OaBot, oa_bot, oa_settings, oa_tokens
from tests.fakes.zalo_oa_server import ZaloOaServer
from tocns.app import BotApp
from tocns.channels.base import SendStatus
from tocns.channels.zalo_oa import ApiAnswer, TokenDead, ZaloOaChannel, classify, to_oa_text
from tocns.config import Settings
from tocns.core.mentions import person_marker
from tocns.core.messages import Attachment
from tocns.core.metrics import METRICS
from tocns.features.org import store as org_store
from tocns.features.zalo_oa.models import ZaloOaToken
from tocns.log_setup import MASK, redact
from tocns.outbox import store as outbox_store
from tocns.outbox.models import OutboxState
from tocns.web.app import create_app


@pytest.fixture
def fake() -> FakeZaloOa:
    """A fake OA owning one enabled GMF group."""
    return FakeZaloOa()


@pytest.fixture
async def oa(app: object, settings: Settings, tmp_path: Path, fake: FakeZaloOa) -> OaBot:
    """The bot with the OA authorized (first token pair stored)."""
    return await oa_bot(app, settings, tmp_path, fake)  # type: ignore[arg-type]


async def _deliver_outbox(oa: OaBot) -> None:
    await asyncio.wait_for(sender(oa.app, {"zalo_oa": oa.transport}).drain(until_empty=True), timeout=30)


async def _bind(oa: OaBot) -> None:
    code = await commune_join_code(oa.app)
    async with web(oa.app, [oa.channel]) as (client, _):
        assert (await deliver(client, group_text(f"/ketnoi {code}", user_id=OA_LEADER))).status_code == 200


# ---------------------------------------------------------------- webhook


async def test_a_wrongly_signed_call_is_refused_and_nothing_is_processed(oa: OaBot) -> None:
    code = await commune_join_code(oa.app)
    async with web(oa.app, [oa.channel]) as (client, _):
        forged = await deliver(client, group_text(f"/ketnoi {code}", user_id=OA_LEADER), key="not-the-oa-secret-key")
        unsigned = await client.post("/webhook/zalo-oa", json=group_text("/huongdan"))
    assert (forged.status_code, unsigned.status_code) == (401, 401)
    assert await inbound_rows(oa.app) == [] and await outbox(oa.app) == []
    async with oa.app.db.session() as session:
        assert await org_store.get_binding(session, "zalo_oa", GROUP) is None


@pytest.mark.parametrize("variant", [{}, {"prefix": False}])
async def test_the_documented_signature_is_accepted_and_logged(
    oa: OaBot, variant: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    """sha256(app id + raw body + body timestamp + OA secret key), with or without the `mac=` prefix."""
    caplog.set_level(logging.INFO, logger="tocns.channels.zalo_oa")
    async with web(oa.app, [oa.channel]) as (client, _):
        assert (await deliver(client, group_text("/huongdan"), **variant)).status_code == 200
    assert "Các lệnh bạn dùng được" in (await outbox(oa.app, GROUP))[0].text
    assert "matched the app_id+oa_secret_key+body_timestamp variant" in caplog.text


@pytest.mark.parametrize(
    ("variant", "logged"),
    [
        ({"id_field": "oa_id"}, "oa_id+oa_secret_key+body_timestamp"),
        ({"key": APP_SECRET}, "app_id+app_secret+body_timestamp"),
        ({"key": APP_SECRET, "id_field": "oa_id"}, "oa_id+app_secret+body_timestamp"),
        ({"header_timestamp": "1763863200000"}, "app_id+oa_secret_key+header_timestamp"),
    ],
)
async def test_another_signature_variant_is_logged_and_refused(
    oa: OaBot, variant: dict[str, object], logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 22: the app secret travels in every token request, so a call signed with it (or with the OA id, or a
    header timestamp) is refused; the log names the variant it matched and never a key."""
    caplog.set_level(logging.INFO, logger="tocns.channels.zalo_oa")
    code = await commune_join_code(oa.app)
    async with web(oa.app, [oa.channel]) as (client, _):
        answer = await deliver(client, group_text(f"/ketnoi {code}", user_id=OA_LEADER), **variant)
    assert answer.status_code == 401
    assert await inbound_rows(oa.app) == [] and await outbox(oa.app) == []
    assert f"signature matched the {logged} variant, not the configured app_id+oa_secret_key" in caplog.text
    assert APP_SECRET not in caplog.text and SECRET_KEY not in caplog.text


async def test_the_app_secret_variant_is_accepted_only_when_configured(
    oa: OaBot, caplog: pytest.LogCaptureFixture
) -> None:
    """ZALO_OA_SIGNATURE_KEY=app_secret (the variant one spec names): then the app secret signs, and the OA secret
    key's signature is the one refused."""
    caplog.set_level(logging.INFO, logger="tocns.channels.zalo_oa")
    oa.channel.settings = oa.channel.settings.model_copy(update={"zalo_oa_signature_key": "app_secret"})
    async with web(oa.app, [oa.channel]) as (client, _):
        assert (await deliver(client, group_text("/huongdan"), key=APP_SECRET)).status_code == 200
        assert (await deliver(client, group_text("/huongdan"))).status_code == 401
    assert "signature matched the app_id+oa_secret_key+body_timestamp variant, not the configured" in caplog.text


def test_only_documented_signature_keys_are_settings(settings: Settings) -> None:
    with pytest.raises(ValueError, match="ZALO_OA_SIGNATURE_KEY='oa_id' không có trong tài liệu của Zalo"):
        Settings.model_validate({**settings.model_dump(), "zalo_oa_signature_key": "oa_id"})
    assert Settings.model_validate(settings.model_dump()).zalo_oa_signature_key == "oa_secret"


async def test_commands_work_with_or_without_tagging_the_oa_and_chatter_is_left_alone(oa: OaBot) -> None:
    async with web(oa.app, [oa.channel]) as (client, _):
        await deliver(client, group_text("/huongdan"))
        await deliver(client, group_text(f"[@{OA_ID}] huongdan"))
        await deliver(client, group_text("huongdan mọi người đọc nhé"))
    replies = [r.text for r in await outbox(oa.app, GROUP)]
    assert len(replies) == 2 and all("Các lệnh bạn dùng được" in r for r in replies)


async def test_a_redelivered_event_is_processed_once_and_the_oas_own_sends_are_ignored(oa: OaBot) -> None:
    event = group_text("/huongdan", msg_id="96d3cdf3af150460909")
    async with web(oa.app, [oa.channel]) as (client, _):
        for _ in range(3):  # Zalo retries with the same msg_id (§4.2)
            assert (await deliver(client, event)).status_code == 200
        assert (await deliver(client, oa_echo("/huongdan"))).status_code == 200
    assert len(await outbox(oa.app, GROUP)) == 1


async def test_a_disbanded_group_loses_its_binding_and_members_coming_and_going_change_nothing(oa: OaBot) -> None:
    await _bind(oa)
    async with web(oa.app, [oa.channel]) as (client, _):
        await deliver(client, lifecycle("user_join_group", users=[OA_MEMBER]))
        await deliver(client, lifecycle("user_out_group", users=[OA_MEMBER]))
    async with oa.app.db.session() as session:
        assert (await org_store.get_binding(session, "zalo_oa", GROUP)) is not None
    async with web(oa.app, [oa.channel]) as (client, _):
        await deliver(client, lifecycle("disperse_group"))  # the 2024 spelling of delete_group (§4.4)
    async with oa.app.db.session() as session:
        assert (await org_store.get_binding(session, "zalo_oa", GROUP)) is None


async def test_members_are_called_by_their_zalo_names_even_those_who_joined_after_the_start(
    oa: OaBot, fake: FakeZaloOa
) -> None:
    other = "1357924680135792468"
    fake.groups[GROUP]["members"] = {OA_LEADER: "Chủ tịch Bình"}
    await oa.channel.start()
    code = await commune_join_code(oa.app)
    async with web(oa.app, [oa.channel]) as (client, web_app):
        await deliver(client, group_text(f"/ketnoi {code}", user_id=OA_LEADER))
        # Lan joins: the bot reads the group's names again, so her first command already carries hers.
        fake.groups[GROUP]["members"][OA_MEMBER] = "Lò Thị Lan"
        await deliver(client, lifecycle("user_join_group", users=[OA_MEMBER]))
        await asyncio.gather(*oa.channel._learning)
        await deliver(client, group_text("/thamgia thon 3", user_id=OA_MEMBER))
        # Someone the bot heard nothing about: a stand-in name first (events carry ids only), the real one next.
        fake.groups[GROUP]["members"][other] = "Vàng A Sử"
        later = time.monotonic() + 600.0  # ten minutes after the last reading (monotonic counts from boot)
        oa.channel.monotonic = lambda: later
        await deliver(client, group_text("/thamgia thon 1", user_id=other))
        await web_app.state.pipeline.drain()
        await asyncio.gather(*oa.channel._learning)
        await deliver(client, group_text("/huongdan", user_id=other))
        await web_app.state.pipeline.drain()
    replies = [r.text for r in await outbox(oa.app, GROUP)]
    assert "Chủ tịch Bình được giao vai trò" in replies[0]
    assert "Lò Thị Lan đã tham gia Thôn 3" in replies[1]
    assert "Người dùng Zalo 2468 đã tham gia Thôn 1" in replies[2]
    async with oa.app.db.session() as session:
        su = await org_store.get_person(session, "zalo_oa", other)
    assert su is not None and su.display_name == "Vàng A Sử"


# ---------------------------------------------------------------- sends


async def test_long_text_is_split_at_2000_utf16_units_people_are_mentioned_and_user_tags_are_defused(
    oa: OaBot, fake: FakeZaloOa
) -> None:
    lan = person_marker("186729651760683225", "Lò Thị Lan")
    text = f"Nhắc {lan}: việc 'Gọi [@{GROUP}] họp' sắp đến hạn.\n" + "🙂 " * 1500
    result = await oa.transport.send(GROUP, text, [])
    assert result.status == SendStatus.OK
    sent = fake.texts(GROUP)
    # 4,560 UTF-16 units (an emoji is 2): the first line, then the rest cut at spaces under 2,000 units each.
    assert len(sent) == 4 and all(utf16_len(t) <= 2000 for t in sent) and utf16_len(sent[1]) > 1900
    assert sum(t.count("🙂") for t in sent) == 1500
    assert sent[0].startswith("Nhắc [@186729651760683225]: việc 'Gọi [＠")
    assert f"[@{GROUP}]" not in "".join(sent)  # a member's text can never tag the whole group


def test_a_person_of_another_platform_is_named_not_tagged() -> None:
    assert to_oa_text(person_marker("u-abc", "Hùng")) == "Hùng"


async def test_pictures_and_documents_are_uploaded_and_excel_goes_as_a_link(oa: OaBot, fake: FakeZaloOa) -> None:
    png = Attachment("bieu-do.png", b"\x89PNG" + b"0" * 100, "image/png")
    csv = Attachment("so-lieu.csv", b"a,b\n1,2\n", "text/csv")
    xlsx = Attachment(
        "bao-cao.xlsx", b"PK" + b"0" * 100, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    big = Attachment("anh-lon.png", b"\x89PNG" + b"0" * 1_100_000, "image/png")
    result = await oa.transport.send(GROUP, "Báo cáo tuần", [png, csv, xlsx, big])
    assert result.status == SendStatus.OK and result.parts_sent == 5
    kinds = [m.get("attachment", {}).get("type", "text") for _, m in fake.messages]
    assert kinds == ["text", "template", "file", "text", "text"]
    assert [u["name"] for u in fake.uploads.values()] == ["bieu-do.png", "so-lieu.csv"]
    xlsx_link, big_link = fake.texts(GROUP)[1:]
    assert "bao-cao.xlsx (tải về trong 7 ngày): https://bot.example.vn/files/" in xlsx_link
    assert "anh-lon.png (tải về trong 7 ngày): https://bot.example.vn/files/" in big_link


async def _queue(oa: OaBot, text: str = "Chỉ đạo khẩn") -> None:
    async with oa.app.db.session() as session:
        await outbox_store.enqueue(
            session, platform="zalo_oa", chat_id=GROUP, text=text, kind="directive", now=oa.app.clock()
        )


async def test_a_disabled_group_fails_the_message_and_keeps_its_binding(oa: OaBot, fake: FakeZaloOa) -> None:
    await _bind(oa)
    fake.groups[GROUP]["status"] = "disabled"  # its GMF asset lapsed (-237)
    await _deliver_outbox(oa)
    rows = await outbox(oa.app, GROUP)
    assert {r.state for r in rows} == {OutboxState.FAILED} and "-237" in (rows[0].last_error or "")
    async with oa.app.db.session() as session:
        assert await org_store.get_binding(session, "zalo_oa", GROUP) is not None


async def test_a_group_the_oa_is_no_longer_in_loses_its_binding(oa: OaBot, fake: FakeZaloOa) -> None:
    await _bind(oa)
    fake.groups[GROUP]["oa_in"] = False  # -403
    await _deliver_outbox(oa)
    async with oa.app.db.session() as session:
        assert await org_store.get_binding(session, "zalo_oa", GROUP) is None


async def test_the_rate_limit_pauses_the_channel_without_counting_attempts(oa: OaBot, fake: FakeZaloOa) -> None:
    await _queue(oa)
    fake.rate_limited = True  # -32
    drained = sender(oa.app, {"zalo_oa": oa.transport})
    await drained.run_once()
    row = (await outbox(oa.app, GROUP))[0]
    assert row.state == OutboxState.PENDING and row.attempts == 0 and "-32" in (row.last_error or "")
    assert drained._limits("zalo_oa").paused_until > 0


# ---------------------------------------------------------------- tokens


async def _stored(oa: OaBot) -> ZaloOaToken:
    async with oa.app.db.session() as session:
        row = (await session.exec(select(ZaloOaToken))).one()
        session.expunge(row)
        return row


@pytest.mark.parametrize("code", [-216, -220])
async def test_a_refused_access_token_is_refreshed_once_and_the_send_succeeds(
    oa: OaBot, fake: FakeZaloOa, code: int
) -> None:
    before = fake.refreshes
    fake.expire_access_tokens(code)
    result = await oa.transport.send(GROUP, "Chỉ đạo khẩn", [])
    assert result.status == SendStatus.OK and fake.texts(GROUP) == ["Chỉ đạo khẩn"]
    assert fake.refreshes == before + 1
    assert len(fake.sent("/v3.0/oa/group/message")) == 2  # refused once, then delivered


async def test_the_new_pair_is_stored_before_it_is_used_and_the_old_refresh_token_is_dead(
    oa: OaBot, fake: FakeZaloOa, clock: FakeClock
) -> None:
    first = await _stored(oa)
    uses_at_save: list[int] = []
    store = oa.tokens.store
    original = store.save

    async def spying_save(state: object, replaced: str | None) -> bool:
        uses_at_save.append(len(fake.tokens_used))
        return await original(state, replaced)  # type: ignore[arg-type]

    store.save = spying_save  # type: ignore[method-assign]
    clock.advance(hours=21)  # ~25 h tokens are refreshed ahead, after about 20 h
    assert (await oa.transport.send(GROUP, "Nhắc việc", [])).status == SendStatus.OK
    second = await _stored(oa)
    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token
    # The new access token was first used after the new pair had been written.
    assert uses_at_save == [0] and fake.tokens_used == [second.access_token]
    assert second.expires_at - clock() == timedelta(seconds=90000)
    # Zalo rotated the refresh token: the one we had is refused from now on.
    assert fake.refresh_token == second.refresh_token


async def test_concurrent_refreshes_make_a_single_call(oa: OaBot, fake: FakeZaloOa) -> None:
    stale = (await _stored(oa)).access_token
    before = fake.refreshes
    tokens = await asyncio.gather(*(oa.tokens.refresh(stale) for _ in range(8)))
    assert fake.refreshes == before + 1 and len(set(tokens)) == 1 and tokens[0] != stale


async def test_two_processes_refreshing_at_once_make_a_single_call(
    oa: OaBot, fake: FakeZaloOa, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("the cross-process lock is a PostgreSQL advisory lock; SQLite runs one process")
    other = oa_tokens(oa.app, fake)  # another process: its own in-process lock, the same database
    stale = (await _stored(oa)).access_token
    before = fake.refreshes
    got = await asyncio.gather(oa.tokens.refresh(stale), other.refresh(stale), oa.tokens.refresh(stale))
    assert fake.refreshes == before + 1 and len(set(got)) == 1
    assert (await _stored(oa)).dead_reason is None


async def test_a_dead_refresh_token_alerts_and_stops_the_channel_without_failing_messages(
    oa: OaBot, fake: FakeZaloOa, caplog: pytest.LogCaptureFixture
) -> None:
    METRICS.channel_stopped.labels("zalo_oa").set(0)
    await _queue(oa, "Chỉ đạo số 1")
    await _queue(oa, "Chỉ đạo số 2")
    fake.refresh_token = None  # revoked at Zalo (or used by someone else)
    fake.expire_access_tokens(-220)
    with caplog.at_level(logging.ERROR):
        await _deliver_outbox(oa)
    rows = await outbox(oa.app, GROUP)
    assert [r.state for r in rows] == [OutboxState.PENDING, OutboxState.PENDING]
    assert all(r.attempts == 0 for r in rows) and fake.texts() == []
    assert METRICS.channel_stopped.labels("zalo_oa")._value.get() == 1
    assert "refresh token Zalo OA bị từ chối" in caplog.text and "tocns zalo-oa authorize" in caplog.text
    assert (await _stored(oa)).dead_reason is not None
    # Nothing tries the dead token again (it would be refused anyway): a restart stops at once with the cause.
    calls = len(fake.calls)
    with pytest.raises(TokenDead):
        await oa.tokens.access_token()
    assert len(fake.calls) == calls
    METRICS.channel_stopped.labels("zalo_oa").set(0)


# ---------------------------------------------------------------- wiring


async def test_serve_builds_the_oa_channel_and_sender_from_the_settings(
    app: BotApp, settings: Settings, tmp_path: Path
) -> None:
    fake = FakeZaloOa()
    with ZaloOaServer(fake) as server:
        served = oa_settings(settings, tmp_path, server.base_url).model_copy(update={"outbox_poll_seconds": 0.05})
        papp = BotApp.build(served, app.db, app.clock)
        await oa_tokens(papp, fake).bootstrap(FIRST_REFRESH)  # as `tocns zalo-oa authorize` did
        await _queue(OaBot(papp, None, None, None), "Chỉ đạo khẩn")  # type: ignore[arg-type]
        # What `tocns serve` runs: channels and the sender built from the settings alone.
        web_app = create_app(served, with_scheduler=True, bot_app=papp, with_platforms=True)
        async with web_app.router.lifespan_context(web_app):
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=web_app), base_url="http://testserver")
            async with client:
                assert (await deliver(client, group_text("/huongdan"))).status_code == 200
            for _ in range(200):
                if len(fake.texts(GROUP)) >= 2:
                    break
                await asyncio.sleep(0.05)
    texts = fake.texts(GROUP)
    assert "Chỉ đạo khẩn" in texts and any("Các lệnh bạn dùng được" in t for t in texts), texts


async def test_obtained_tokens_never_reach_the_log(oa: OaBot) -> None:
    assert {APP_SECRET, oa.app.settings.zalo_oa_secret_key} <= set(oa.app.settings.secret_values())
    stored = await _stored(oa)
    # A library quoting what it sent, tokens included, in an error: the tokens Zalo handed out are masked too.
    line = redact(f"refused: access_token={stored.access_token} refresh_token={stored.refresh_token}")
    assert line == f"refused: access_token={MASK} refresh_token={MASK}"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (-224, SendStatus.UNAUTHORIZED),  # the package lacks the feature: an operator must act, nothing is failed
        (-211, SendStatus.RATE_LIMITED),  # out of quota
        (-233, SendStatus.PERMANENT),
        (-248, SendStatus.PERMANENT),
        (-9999, SendStatus.TRANSIENT),  # a code Zalo does not document
    ],
)
def test_each_documented_error_code_has_its_outcome(code: int, status: SendStatus) -> None:
    assert classify(ApiAnswer(200, code, {"error": code, "message": "x"})).status == status


async def test_before_the_secret_key_is_set_zalos_test_call_is_answered_and_nothing_is_kept(
    oa: OaBot, fake: FakeZaloOa
) -> None:
    bare = oa.app.settings.model_copy(update={"zalo_oa_secret_key": ""})
    channel = ZaloOaChannel(bare, oa.app.router)
    async with web(oa.app, [channel]) as (client, _):
        answered = await deliver(client, group_text("/huongdan"))
    assert answered.status_code == 200
    assert await inbound_rows(oa.app) == [] and await outbox(oa.app) == []


async def test_a_new_pair_the_database_could_not_store_is_kept_and_stored_when_it_is_back(
    oa: OaBot, fake: FakeZaloOa, clock: FakeClock
) -> None:
    first = await _stored(oa)
    store = oa.tokens.store
    original = store.save
    down = [True]

    async def failing_save(state: object, replaced: str | None) -> bool:
        if down[0]:
            raise OperationalError("UPDATE zalo_oa_token", {}, ConnectionRefusedError("refused"))
        return await original(state, replaced)  # type: ignore[arg-type]

    store.save = failing_save  # type: ignore[method-assign]
    clock.advance(hours=21)  # refreshed ahead; Zalo rotates the refresh token, the database is away
    assert (await oa.transport.send(GROUP, "Nhắc việc", [])).status == SendStatus.OK
    assert (await _stored(oa)).refresh_token == first.refresh_token  # not stored yet...
    down[0] = False
    assert (await oa.transport.send(GROUP, "Nhắc việc 2", [])).status == SendStatus.OK
    second = await _stored(oa)
    # ...stored at the next use: the only refresh token Zalo still accepts is not lost.
    assert second.refresh_token == fake.refresh_token != first.refresh_token
    assert fake.refreshes == 2  # the bootstrap and one refresh, never a second one
