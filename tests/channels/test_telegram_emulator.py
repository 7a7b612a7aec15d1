"""Issue 15's "Done when", against an independent Bot API emulator (npm telegram-test-api), not the project's fake.

The emulator runs in node (tests/emulator: `npm ci --prefix tests/emulator`); `tests/emulator/start.js` says which
gaps of it are bridged and why. People's messages go in through the emulator's own client API (it hands them
to the bot's getUpdates as it received them); what the bot sent is read back from the emulator's history.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import LEADER, FakeClock, free_port, tick
from tests.fakes.platforms import commune_join_code, e2e_settings, inbound_rows, outbox, platform_app, sender
from tocns.app import BotApp
from tocns.channels.telegram import TelegramChannel, TelegramTransport
from tocns.config import Settings

EMULATOR = Path(__file__).resolve().parents[1] / "emulator"
GROUP = -1001234567890
MAI = 4242  # a villager with no @username
MAI_USER = {"id": MAI, "is_bot": False, "first_name": "Lò Thị", "last_name": "Mai"}
LEADER_USER = {"id": int(LEADER), "is_bot": False, "first_name": "Hùng", "last_name": "Trần", "username": "hung_tran"}
ANONYMOUS = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
CHAT = {"id": GROUP, "type": "supergroup", "title": "Xã Tân Lập - Tổ CNS"}


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed: the Bot API emulator (npm telegram-test-api) runs in node"
    if not (EMULATOR / "node_modules" / "telegram-test-api").is_dir():
        return "the Bot API emulator is not installed: run `npm ci --prefix tests/emulator`"
    return None


@pytest.fixture
def emulator() -> Iterator[str]:
    """The emulator listening on a free loopback port; its base URL."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    port = free_port()
    node = shutil.which("node") or "node"
    proc = subprocess.Popen(
        [node, "start.js", str(port)], cwd=EMULATOR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.kill()
            pytest.fail(f"the Bot API emulator did not start: {line}{proc.communicate()[1]}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _message(text: str, sender: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A group message as Telegram delivers it, a bot_command entity on the command."""
    command = len(text.split()[0])
    return {
        "chat": CHAT,
        "from": sender,
        "date": int(time.time()),
        "text": text,
        "entities": [{"type": "bot_command", "offset": 0, "length": command}],
        **extra,
    }


class _Links(HTMLParser):
    """The (href, text) of every link in a Telegram HTML message."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self.links.append((self._href, data))
            self._href = None


def _links(text: str) -> list[tuple[str, str]]:
    parser = _Links()
    parser.feed(text)
    return parser.links


async def test_a_tapped_name_is_given_a_task_reminded_with_a_real_mention_and_an_anonymous_admin_is_answered(
    emulator: str, app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    # One attempt per message: the emulator has no sendDocument, so the workbook a leader's /baocao carries fails
    # at once (its text went first) instead of holding the group's later messages behind retries.
    papp = platform_app(app, e2e_settings(settings, tmp_path, emulator).model_copy(update={"outbox_max_attempts": 1}))
    token = papp.settings.telegram_bot_token
    code = await commune_join_code(papp)
    task = "/giaoviec 05/12 Kiểm tra sổ hộ Lò Thị Mai"
    tapped = {"type": "text_mention", "offset": _utf16(task[: task.rindex("Lò")]), "length": 10, "user": MAI_USER}
    said = [
        _message(f"/ketnoi {code}", LEADER_USER),
        _message("/thamgia thon 3", MAI_USER),
        # The leader taps Mai's name: Telegram puts a text_mention entity on it, no "@" in the text.
        _message(task, LEADER_USER, entities=[{"type": "bot_command", "offset": 0, "length": 9}, tapped]),
        # An anonymous admin posts as the group itself, through GroupAnonymousBot.
        _message("/baocao", ANONYMOUS, sender_chat=CHAT),
    ]
    channel = TelegramChannel(papp.settings, papp.router)
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=emulator, timeout=10) as client:
        await channel.start()
        papp.pipeline.add(channel)
        polling = asyncio.create_task(channel.poll(papp.pipeline.receive, stop))
        try:
            for message in said:  # one at a time, each processed before the next, as people would type them
                seen = len(await inbound_rows(papp))
                response = await client.post("/sendMessage", json={**message, "botToken": token})
                assert response.status_code == 200, response.text
                for _ in range(200):
                    rows = await inbound_rows(papp)
                    if len(rows) > seen and rows[-1].state == "done":
                        break
                    await asyncio.sleep(0.05)
                assert len(rows) > seen and rows[-1].state == "done", [(r.state, r.error) for r in rows]
        finally:
            stop.set()
            await asyncio.wait_for(polling, timeout=10)
            await channel.close()
        # The tasks job at the reminder hour, the day before the deadline, as `tocns tick --at` runs it.
        ran = await tick(papp, clock, "2026-12-04 08:00")
        assert any("nhắc việc #1" in line for line in ran), ran
        transport = TelegramTransport(token, emulator, timeout=5)
        await asyncio.wait_for(sender(papp, {"telegram": transport}).drain(until_empty=True), timeout=30)
        await transport.close()
        history = (await client.post("/getUpdatesHistory", json={"token": token})).json()["result"]
    # Only the workbook did not go (the emulator has no sendDocument); the report's text did (below).
    undelivered = [(r.kind, r.attachments) for r in await outbox(papp) if r.state != "sent"]
    assert len(undelivered) == 1 and ".xlsx" in str(undelivered[0][1]), undelivered
    sent = [h["message"] for h in history if "chat_id" in h["message"]]
    assert sent and all(m["chat_id"] == str(GROUP) for m in sent), sent
    # The bot understood the tapped name: the task is Mai's.
    assert any("Đã giao việc #1" in m["text"] and "Lò Thị Mai" in m["text"] for m in sent), sent
    # The anonymous admin's /baocao got the commune's report.
    assert any("Tổ chưa báo cáo" in m["text"] for m in sent), [m["text"] for m in sent]
    # The reminder reached the group mentioning her for real: HTML parse mode, a link to her user id.
    reminders = [m for m in sent if "Kiểm tra sổ hộ" in m["text"] and "Đã giao việc" not in m["text"]]
    assert reminders, [m["text"] for m in sent]
    for reminder in reminders:
        assert reminder.get("parse_mode") == "HTML", reminder
        assert (f"tg://user?id={MAI}", "Lò Thị Mai") in _links(reminder["text"]), reminder["text"]


async def _converse(papp: BotApp, client: httpx.AsyncClient, said: list[tuple[str, dict[str, Any]]]) -> None:
    """Post each (client route, body) to the emulator while the bot long-polls it, each processed before the next."""
    token = papp.settings.telegram_bot_token
    channel = TelegramChannel(papp.settings, papp.router)
    stop = asyncio.Event()
    await channel.start()
    papp.pipeline.add(channel)
    polling = asyncio.create_task(channel.poll(papp.pipeline.receive, stop))
    try:
        for route, body in said:
            seen = len(await inbound_rows(papp))
            response = await client.post(route, json={**body, "botToken": token})
            assert response.status_code == 200, response.text
            for _ in range(200):
                rows = await inbound_rows(papp)
                if len(rows) > seen and rows[-1].state == "done":
                    break
                await asyncio.sleep(0.05)
            assert len(rows) > seen and rows[-1].state == "done", [(r.state, r.error) for r in rows]
    finally:
        stop.set()
        await asyncio.wait_for(polling, timeout=10)
        await channel.close()


async def _deliver(papp: BotApp, emulator: str) -> None:
    transport = TelegramTransport(papp.settings.telegram_bot_token, emulator, timeout=5)
    await asyncio.wait_for(sender(papp, {"telegram": transport}).drain(until_empty=True), timeout=30)
    await transport.close()


def _tap(bot_message: dict[str, Any], user: dict[str, Any], label: str) -> tuple[str, dict[str, Any]]:
    """The emulator's client tapping the button `label` under a message the bot sent (as history holds it)."""
    sent = bot_message["message"]
    [data] = [b["callback_data"] for row in sent["reply_markup"]["inline_keyboard"] for b in row if b["text"] == label]
    message = {
        "message_id": bot_message["messageId"],
        "date": int(time.time()),
        "chat": CHAT,
        "from": {"id": 666, "is_bot": True, "first_name": "Test First name", "username": "TestNameBot"},
        "text": sent["text"],
        "reply_markup": sent["reply_markup"],
    }
    return "/sendCallback", {"from": user, "message": message, "data": data}


async def test_a_member_taps_xong_under_a_reminder_and_the_reminder_shows_who_did(
    emulator: str, app: BotApp, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    papp = platform_app(app, e2e_settings(settings, tmp_path, emulator).model_copy(update={"outbox_max_attempts": 1}))
    token = papp.settings.telegram_bot_token
    code = await commune_join_code(papp)
    stranger = {"id": 5151, "is_bot": False, "first_name": "Khách"}
    async with httpx.AsyncClient(base_url=emulator, timeout=10) as client:
        await _converse(
            papp,
            client,
            [
                ("/sendMessage", _message(f"/ketnoi {code}", LEADER_USER)),
                ("/sendMessage", _message("/thamgia thon 3", MAI_USER)),
                ("/sendMessage", _message("/giaoviec 05/12 Kiểm tra sổ hộ tất cả", LEADER_USER)),
            ],
        )
        await tick(papp, clock, "2026-12-04 08:00")
        await _deliver(papp, emulator)
        history = (await client.post("/getUpdatesHistory", json={"token": token})).json()["result"]
        [reminder] = [h for h in history if "reply_markup" in h["message"] and "Nhắc việc" in h["message"]["text"]]
        assert reminder["message"]["reply_markup"]["inline_keyboard"] == [
            [{"text": "Xong", "callback_data": "/xong 1"}]
        ]
        # A stranger taps first (refused to him alone), then Mai.
        await _converse(papp, client, [_tap(reminder, stranger, "Xong"), _tap(reminder, MAI_USER, "Xong")])
        await _deliver(papp, emulator)
        history = (await client.post("/getUpdatesHistory", json={"token": token})).json()["result"]
    sent = [h["message"]["text"] for h in history if "chat_id" in h.get("message", {})]
    assert any(t.startswith("Đã ghi nhận Thôn 3 hoàn thành việc #1") for t in sent), sent
    assert not any("không có quyền" in t for t in sent), sent
    bot_messages = [h for h in history if "chat_id" in h.get("message", {})]
    [edited] = [h["message"] for h in bot_messages if h["messageId"] == reminder["messageId"]]
    assert edited["text"].endswith("✓ Lò Thị Mai: Xong"), edited["text"]
    assert edited.get("parse_mode") == "HTML"
