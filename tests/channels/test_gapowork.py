"""GapoWork: what the webhook refuses or ignores (nothing stored), and how the transport talks to the strict fake."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.factories import FakeClock
from tests.fakes import gapowork_api
from tests.fakes.gapowork_api import BOT_ID, FakeGapoWork
from tests.fakes.gapowork_bot import WEBHOOK, gapo_bot, gapowork_settings
from tests.fakes.platforms import inbound_rows, outbox
from tocns.app import BotApp
from tocns.channels.base import SendStatus
from tocns.channels.gapowork import MAX_TEXT, GapoWorkTransport, render_body, target_of
from tocns.config import Settings
from tocns.core.mentions import person_marker
from tocns.core.messages import Attachment, Button


def _fake() -> tuple[FakeGapoWork, int, int]:
    fake = FakeGapoWork()
    return fake, fake.user("Lò Thị Lan"), fake.group("Tổ CNS Xã Tân Lập")


# ---------------------------------------------------------------- refused or ignored, nothing stored


async def test_a_wrong_secret_path_and_a_foreign_bot_are_refused_and_nothing_is_stored(
    app: BotApp, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake, user, group = _fake()
    event = fake.say(user, "/huongdan", thread_id=group)[0]
    async with gapo_bot(app, settings, tmp_path, fake) as bot:
        with caplog.at_level(logging.WARNING):
            wrong = await bot.client.post(f"/webhook/gapowork/{gapowork_api.SECRET[:-1]}x", json=event)
            missing = await bot.client.post("/webhook/gapowork", json=event)
            foreign = await bot.client.post(WEBHOOK, json={**event, "to_bot_id": BOT_ID + 1})
            absent = await bot.client.post(WEBHOOK, json={k: v for k, v in event.items() if k != "to_bot_id"})
        assert (wrong.status_code, missing.status_code) == (401, 401)
        assert (foreign.status_code, absent.status_code) == (403, 403)
        assert "gapowork webhook refused (401)" in caplog.text and "gapowork webhook refused (403)" in caplog.text
        # The secret never reaches the log, even though it is in the URL.
        assert gapowork_api.SECRET not in caplog.text
        await bot.web_app.state.pipeline.drain()
        assert await inbound_rows(bot.app) == [] and await outbox(bot.app) == []
        # The right path and bot: stored and answered.
        await bot.post([event])
        assert len(await inbound_rows(bot.app)) == 1 and len(await outbox(bot.app)) == 1


def _with(event: dict[str, Any], **message: Any) -> dict[str, Any]:
    return {**event, "message": {**event["message"], **message}}


async def test_bad_input_is_refused_or_ignored_never_a_500_never_a_record(
    app: BotApp, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake, user, group = _fake()
    event = fake.say(user, "/huongdan", thread_id=group)[0]
    float_id = json.dumps(event).replace(f'"to_bot_id": {BOT_ID}', '"to_bot_id": 5.828367940457829e18')
    float_thread = json.dumps(event).replace(f'"thread_id": {group}', f'"thread_id": {group}.0')
    cases: list[tuple[str, Any, int]] = [
        ("not JSON", b"{not json", 400),
        ("float bot id", float_id.encode(), 400),
        ("float thread id", float_thread.encode(), 400),
        ("unknown event", json.dumps({**event, "event": "reaction_created"}).encode(), 200),
        ("payload not a command", json.dumps(_with(event, type="quick_reply", payload="hello")).encode(), 200),
        ("payload unknown command", json.dumps(_with(event, type="menu", payload="/khongco")).encode(), 200),
        ("group chatter", json.dumps(_with(event, text="chiều nay họp nhé")).encode(), 200),
        ("a file", json.dumps(_with(event, type="file")).encode(), 200),
        ("not an object", b"[1, 2]", 400),
        ("no message", json.dumps({k: v for k, v in event.items() if k != "message"}).encode(), 400),
    ]
    async with gapo_bot(app, settings, tmp_path, fake) as bot:
        for name, body, status in cases:
            caplog.clear()
            with caplog.at_level(logging.INFO):
                response = await bot.client.post(WEBHOOK, content=body, headers={"content-type": "application/json"})
            assert response.status_code == status, (name, response.text)
            assert "gapowork webhook" in caplog.text, name  # every refusal or ignore leaves a log line
        await bot.web_app.state.pipeline.drain()
        assert await inbound_rows(bot.app) == [] and await outbox(bot.app) == []


async def test_ids_stay_exact_text_is_nfc_and_a_redelivery_is_answered_once(
    app: BotApp, settings: Settings, tmp_path: Path
) -> None:
    fake, user, group = _fake()
    nfd = "/thamgia thon 3".replace("thon", "tho\u0302n")  # typed with a combining circumflex
    events = fake.say(user, nfd, thread_id=group)
    assert len(events) == 2  # the fake redelivers its first message event
    async with gapo_bot(app, settings, tmp_path, fake) as bot:
        await bot.post(events)
        rows = await inbound_rows(bot.app)
        assert len(rows) == 1
        stored = json.loads(rows[0].body) if isinstance(rows[0].body, str) else rows[0].body
        assert stored["message"]["text"] == "/thamgia thôn 3"  # NFC
        assert stored["to_bot_id"] == BOT_ID and stored["message"]["user"]["id"] == user  # 19 digits, exact
        assert len(await outbox(bot.app, str(group))) == 1


async def test_a_mention_of_the_bot_in_a_group_is_a_command(app: BotApp, settings: Settings, tmp_path: Path) -> None:
    fake, user, group = _fake()
    text = "@Bot Tổ CNS huongdan"
    mention = {"target": BOT_ID, "offset": 0, "length": len("@Bot Tổ CNS")}
    unknown_span = {"target": BOT_ID, "offset": 0, "length": 0}  # a length of 0 is seen in the wild
    async with gapo_bot(app, settings, tmp_path, fake) as bot:
        await bot.post(fake.say(user, text, thread_id=group, mentions=[mention]))
        await bot.deliver()
        await bot.post(fake.say(user, "@Trợ lý xã huongdan", thread_id=group, mentions=[unknown_span]))
        await bot.deliver()
        answers = fake.texts("thread_id", group)
        assert len(answers) == 2 and all("Các lệnh bạn dùng được" in a for a in answers), answers


# ---------------------------------------------------------------- outbound


def test_chat_ids_name_exactly_one_recipient() -> None:
    assert target_of("7001") == {"thread_id": 7001}
    assert target_of("u:5828367940457829714") == {"receiver_id": 5828367940457829714}
    assert target_of("c:42") == {"collab_id": 42}
    assert target_of("x:42") is None and target_of("u:") is None and target_of("12345678901234567890") is None


def test_mentions_go_in_both_documented_forms() -> None:
    body = render_body(f"Chưa xong: {person_marker('1193582742', 'Lò Thị Lan')} *gấp*")
    assert body["is_markdown_text"] is True
    assert body["text"] == "Chưa xong: [@Lò Thị Lan](https://www.gapowork.vn/profile/1193582742) \\*gấp\\*"
    assert body["tmp_text"] == "Chưa xong: @Lò Thị Lan *gấp*"
    assert body["metadata"]["mentions"] == [{"target": 1193582742, "offset": 11, "length": 11}]
    # No GapoWork person named: plain text, no Markdown at all.
    assert render_body("Đã ghi *5* hộ") == {"type": "text", "text": "Đã ghi *5* hộ", "is_markdown_text": False}


async def test_long_text_is_chunked_and_the_buttons_go_under_the_last_chunk(settings: Settings, tmp_path: Path) -> None:
    fake, _user, group = _fake()
    transport = GapoWorkTransport(gapowork_settings(settings, tmp_path), client=fake.client())
    text = "\n".join(f"Dòng {i}: " + "x" * 90 for i in range(50))  # about 5,000 characters
    result = await transport.send(str(group), text, [], buttons=[Button("Đã nhận", "/danhan 3")])
    assert result.status == SendStatus.OK and result.parts_sent == 3, fake.refused
    bodies = fake.sent_to("thread_id", group)
    assert [b["type"] for b in bodies] == ["text", "text", "quick_replies"]
    assert all(len(b["text"]) <= MAX_TEXT for b in bodies)
    assert "\n".join(b["text"] for b in bodies) == text
    assert bodies[-1]["metadata"]["options"] == [{"title": "Đã nhận", "payload": "/danhan 3"}]
    await transport.close()


@pytest.mark.parametrize(
    ("status", "expected", "gone"),
    [
        (401, SendStatus.UNAUTHORIZED, False),
        (403, SendStatus.UNAUTHORIZED, False),
        (429, SendStatus.RATE_LIMITED, False),
        (500, SendStatus.TRANSIENT, False),
        (503, SendStatus.TRANSIENT, False),
    ],
)
async def test_errors_stop_the_channel_or_go_back_to_the_outbox(
    settings: Settings, tmp_path: Path, status: int, expected: SendStatus, gone: bool
) -> None:
    fake, _user, group = _fake()
    fake.fail_next = [status]
    transport = GapoWorkTransport(gapowork_settings(settings, tmp_path), client=fake.client())
    result = await transport.send(str(group), "Xin chào", [])
    assert (result.status, result.chat_gone) == (expected, gone)
    await transport.close()


async def test_a_chat_the_bot_was_removed_from_drops_its_binding(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    """The chat owner removed the bot: the send is refused, the message fails and the group's binding goes, as for
    a bot removed on any platform; nothing is retried there."""
    from tests.factories import build_tree, join_code
    from tocns.core.roles import Role
    from tocns.features.org import store as org_store

    fake, user, group = _fake()
    async with app.db.session() as session:
        tree = await build_tree(session)
        code = await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock())
    async with gapo_bot(app, settings, tmp_path, fake) as bot:
        await bot.post(fake.say(user, f"/ketnoi {code}", thread_id=group))
        fake.remove_bot(group)
        await bot.sender.run_once()
        rows = await outbox(bot.app, str(group))
        assert [r.state for r in rows] == ["failed"] and "không còn trong cuộc trò chuyện" in (rows[0].last_error or "")
        async with bot.app.db.session() as session:
            assert await org_store.get_binding(session, "gapowork", str(group)) is None


async def test_a_refused_key_stops_the_channel_with_one_operator_line(
    app: BotApp, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake, user, group = _fake()
    async with gapo_bot(app, settings, tmp_path, fake) as bot:
        await bot.post(fake.say(user, "/huongdan", thread_id=group))
        fake.fail_next = [401]
        with caplog.at_level(logging.ERROR):
            await bot.sender.run_once()
        assert "gapowork" in bot.sender.stopped
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "GAPOWORK_BOT_TOKEN" in errors[0].getMessage()
        assert [r.state for r in await outbox(bot.app)] == ["pending"]  # kept for when the key is fixed


async def test_files_go_as_signed_https_links_or_one_clear_line(settings: Settings, tmp_path: Path) -> None:
    fake, _user, group = _fake()
    workbook = Attachment("bao-cao-X1.xlsx", b"PK\x03\x04 workbook", "application/vnd.ms-excel")
    chart = Attachment("bieu-do.png", b"\x89PNG chart", "image/png")
    linked = GapoWorkTransport(gapowork_settings(settings, tmp_path), client=fake.client())
    assert (await linked.send(str(group), "📊 Báo cáo", [chart, workbook])).status == SendStatus.OK
    text = fake.texts("thread_id", group)[-1]
    assert "📎 bieu-do.png (mở hoặc tải về trong 7 ngày): https://bot.example.vn/files/" in text
    assert "📎 bao-cao-X1.xlsx (mở hoặc tải về trong 7 ngày): https://bot.example.vn/files/" in text
    local = gapowork_settings(settings, tmp_path).model_copy(update={"public_base_url": "http://127.0.0.1:8000"})
    unlinked = GapoWorkTransport(local, client=fake.client())
    assert (await unlinked.send(str(group), "📊 Báo cáo", [chart, workbook])).status == SendStatus.OK
    text = fake.texts("thread_id", group)[-1]
    assert "📎 bieu-do.png, bao-cao-X1.xlsx: chưa gửi được qua GapoWork" in text and "http" not in text
    await linked.close()
    await unlinked.close()


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize("secret", ["short-secret", "changeme", "<your-secret>", "a" * 30 + "/x"])
def test_a_short_or_placeholder_webhook_secret_is_refused(settings: Settings, secret: str) -> None:
    with pytest.raises(ValidationError, match="GAPOWORK_WEBHOOK_SECRET"):
        Settings(_env_file=None, gapowork_webhook_secret=secret)  # type: ignore[call-arg]


def test_a_bot_id_must_be_an_exact_number() -> None:
    with pytest.raises(ValidationError, match="GAPOWORK_BOT_ID"):
        Settings(_env_file=None, gapowork_bot_id="5.8e18")  # type: ignore[call-arg]
    assert Settings(_env_file=None, gapowork_bot_id=str(BOT_ID)).gapowork_bot_id == str(BOT_ID)  # type: ignore[call-arg]


async def test_a_removal_event_naming_the_bot_is_the_neutral_bot_removed_event(
    app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    from tests.factories import build_tree, join_code
    from tocns.core.roles import Role
    from tocns.features.org import store as org_store

    fake, user, group = _fake()
    async with app.db.session() as session:
        tree = await build_tree(session)
        code = await join_code(session, tree.commune, Role.COMMUNE_LEADER, clock())
    base = {"to_bot_id": BOT_ID, "thread_id": group}
    async with gapo_bot(app, settings, tmp_path, fake) as bot:
        await bot.post(fake.say(user, f"/ketnoi {code}", thread_id=group))
        # Another member leaving is nothing for the bot, and nothing is stored for it.
        before = len(await inbound_rows(bot.app))
        await bot.post([{**base, "id": "evt-left", "event": "member_removed", "user_id": user}])
        assert len(await inbound_rows(bot.app)) == before
        async with bot.app.db.session() as session:
            assert await org_store.get_binding(session, "gapowork", str(group)) is not None
        await bot.post([{**base, "id": "evt-removed", "event": "member_removed", "user_id": BOT_ID}])
        async with bot.app.db.session() as session:
            assert await org_store.get_binding(session, "gapowork", str(group)) is None
