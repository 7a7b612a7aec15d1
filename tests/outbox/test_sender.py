"""The outbox sender against a real local fake Telegram server: faults, limits, merging, crashes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from tests.factories import FakeClock, RunningClock, bound_groups, clock_env, queue
from tests.fakes.telegram_server import FakeTelegram, Fault, TelegramServer
from tocns.app import sender_hooks
from tocns.channels.telegram import TelegramTransport
from tocns.config import Settings
from tocns.core.clock import utcnow
from tocns.core.text import split_chunks
from tocns.db.engine import Database
from tocns.features.org import store as org_store
from tocns.outbox import store as outbox_store
from tocns.outbox.models import OutboxMessage, OutboxState
from tocns.outbox.sender import PRUNE_AT, Job, OutboxSender, PlatformLimits


def _sender(
    db: Database,
    settings: Settings,
    server: TelegramServer,
    rate: float = 20.0,
    per_chat: int = 20,
    window: float = 60,
    clock: Callable[[], datetime] | None = None,
    timeout: float = 10.0,
) -> OutboxSender:
    # A long request timeout by default: on a loaded CI machine a short one turned a slow answer into an ambiguous
    # timeout, and the retry delivered the message twice (seen twice on the long-text test). The tests of timeouts
    # pass their own short one.
    # These tests run on the wall clock: no quiet hours, so they pass at any hour (quiet hours are tested below).
    update = {"outbox_poll_seconds": 0.05, "outbox_max_attempts": 5, "quiet_hours_start": 0, "quiet_hours_end": 0}
    fast = settings.model_copy(update=update)
    transport = TelegramTransport("123:abc", server.base_url, timeout=timeout)
    limits = {"telegram": PlatformLimits.build(rate, per_chat, 1, chat_window=window)}
    hooks = sender_hooks()
    return OutboxSender(db, fast, {"telegram": transport}, limits=limits, clock=clock or utcnow, hooks=hooks)


async def _rows(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        return list((await session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_broadcast_survives_faults_exactly_once_within_limits(db: Database, settings: Settings) -> None:
    chats = await bound_groups(db, 40)
    await queue(db, chats)
    fake = FakeTelegram(rate_429=0.1, retry_after=1, rate_5xx=0.05)
    with TelegramServer(fake) as server:
        fake.script(chats[0], Fault("429", retry_after=1), Fault("429", retry_after=1))
        fake.script(chats[1], Fault("500"), Fault("500"))
        fake.script(chats[2], Fault("timeout", sleep=0.8))
        fake.gone.add(chats[3])
        await asyncio.wait_for(_sender(db, settings, server, timeout=0.3).drain(until_empty=True), timeout=60)
    per_chat = fake.delivered_per_chat()
    # Every group but the one that removed the bot got the directive exactly once.
    assert set(per_chat) == set(chats) - {chats[3]}
    assert set(per_chat.values()) == {1}
    assert fake.max_in_window(1.0) <= 20
    rows = {r.chat_id: r for r in await _rows(db)}
    assert rows[chats[3]].state == OutboxState.FAILED
    assert "bị xoá khỏi nhóm" in (rows[chats[3]].last_error or "")
    assert all(rows[c].state == OutboxState.SENT for c in chats if c != chats[3])
    async with db.session() as session:
        assert await org_store.get_binding(session, "telegram", chats[3]) is None
        gone = await org_store.get_binding(session, "telegram", chats[3], active_only=False)
        assert gone is not None and not gone.active
        assert await org_store.get_binding(session, "telegram", chats[4]) is not None


async def test_chat_not_found_fails_and_deactivates(db: Database, settings: Settings) -> None:
    chats = await bound_groups(db, 2)
    await queue(db, chats)
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        fake.script(chats[0], Fault("400"))
        await asyncio.wait_for(_sender(db, settings, server).drain(until_empty=True), timeout=20)
    rows = {r.chat_id: r for r in await _rows(db)}
    assert rows[chats[0]].state == OutboxState.FAILED and rows[chats[0]].last_error == "không tìm thấy nhóm"
    assert fake.delivered_per_chat() == {chats[1]: 1}


async def test_per_group_limit_holds_and_waiting_replies_are_merged(db: Database, settings: Settings) -> None:
    chats = await bound_groups(db, 1)
    await queue(db, chats * 3, text="Thông báo {i}", kind="directive")
    await queue(db, chats * 4, text="Đã ghi nhận kết quả số {i}", kind="reply")
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        sender = _sender(db, settings, server, per_chat=3, window=1.5)
        await asyncio.wait_for(sender.drain(until_empty=True), timeout=20)
    delivered = fake.delivered()
    # Three notices fill the group's budget; the four confirmations waiting behind them go out as one message.
    assert [c.text for c in delivered[:3]] == ["Thông báo 0", "Thông báo 1", "Thông báo 2"]
    assert len(delivered) == 4
    assert delivered[3].text == "\n\n".join(f"Đã ghi nhận kết quả số {i}" for i in range(4))
    assert fake.max_in_window(1.5, chats[0]) <= 3
    rows = await _rows(db)
    assert all(r.state == OutboxState.SENT for r in rows)
    assert [r.merged_into_id for r in rows[3:]] == [None, rows[3].id, rows[3].id, rows[3].id]


async def test_a_busy_group_gets_its_waiting_receipts_in_one_message(db: Database, settings: Settings) -> None:
    chats = await bound_groups(db, 31)
    busy, others = chats[0], chats[1:]
    # Thirty receipts for one group, queued between notices to thirty other groups: more than one batch.
    async with db.session() as session:
        for i, other in enumerate(others):
            await outbox_store.enqueue(session, platform="telegram", chat_id=busy, text=f"Đã ghi #{i}", kind="reply")
            await outbox_store.enqueue(session, platform="telegram", chat_id=other, text="Thông báo", kind="directive")
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        sender = _sender(db, settings, server, rate=20, per_chat=1, window=2, timeout=15)  # no ambiguous timeouts
        await asyncio.wait_for(sender.drain(until_empty=True), timeout=30)
    to_busy = [c.text for c in fake.delivered() if c.chat_id == busy]
    assert to_busy == ["\n\n".join(f"Đã ghi #{i}" for i in range(30))]
    assert sorted(c.chat_id for c in fake.delivered() if c.chat_id != busy) == sorted(others)


async def test_a_long_message_failing_part_way_resumes_without_repeating_parts(
    db: Database, settings: Settings
) -> None:
    chats = await bound_groups(db, 1)
    paragraphs = [f"Mục {i}: " + "nội dung báo cáo tuần " * 40 for i in range(12)]  # about 10,000 characters
    long_text = "\n\n".join(paragraphs)
    await queue(db, chats, text=long_text, kind="summary")
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        # Part 1 goes through; part 2 is refused with 429, then with a server error; then all is well.
        fake.script(chats[0], Fault("pass"), Fault("429", retry_after=1), Fault("500"))
        sender = _sender(db, settings, server)
        sender._backoff = lambda attempts: 0.01  # type: ignore[method-assign]
        await asyncio.wait_for(sender.drain(until_empty=True), timeout=30)
    parts = split_chunks(long_text, 4096)
    assert len(parts) >= 3
    # The group reads every part exactly once, in order, although the message was attempted three times.
    assert [c.text for c in fake.delivered()] == parts
    [row] = await _rows(db)
    assert row.state == OutboxState.SENT


async def test_network_errors_give_up_after_max_attempts(db: Database, settings: Settings) -> None:
    chats = await bound_groups(db, 1)
    await queue(db, chats)
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        fake.script(chats[0], *[Fault("500")] * 10)
        sender = _sender(db, settings, server)
        sender._backoff = lambda attempts: 0.01  # type: ignore[method-assign]
        await asyncio.wait_for(sender.drain(until_empty=True), timeout=20)
    [row] = await _rows(db)
    assert row.state == OutboxState.FAILED and row.attempts == 5
    assert fake.delivered() == []
    async with db.session() as session:
        # A network error says nothing about the group: its binding stays.
        assert await org_store.get_binding(session, "telegram", chats[0]) is not None


def test_long_text_is_split_at_the_telegram_limit() -> None:
    text = "\n".join(f"Dòng số {i}: chuẩn bị họp giao ban" for i in range(400))
    parts = split_chunks(text, 4096)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == text


def _spawn(db_url: str, base_url: str, tmp: Path, clock: Callable[[], datetime]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **clock_env(clock),
        "DATABASE_URL": db_url,
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "TELEGRAM_API_BASE_URL": base_url,
        "TELEGRAM_GLOBAL_RATE": "40",
        "OUTBOX_LEASE_SECONDS": "1",
        "OUTBOX_POLL_SECONDS": "0.1",
        "AUTO_MIGRATE": "false",
    }
    log = (tmp / "sender.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "tocns.cli", "outbox", "send", "--until-empty"], env=env, stdout=log, stderr=log, cwd=tmp
    )


@pytest.mark.timeout(400)  # three sender processes; each starts slowly on a loaded CI machine
async def test_sender_killed_mid_broadcast_completes_after_restart(
    db: Database, settings: Settings, tmp_path: Path, clock: FakeClock
) -> None:
    chats = await bound_groups(db, 120)
    # The subprocess's clock goes on from this test's: a weekday morning, outside the quiet hours.
    running = RunningClock(clock)
    await queue(db, chats, now=running())
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        crashes = 0
        for threshold in (30, 70):
            proc = _spawn(settings.database_url, server.base_url, tmp_path, running)
            # Generous: under CI load a fresh process can take tens of seconds to import and send its first batch.
            deadline = time.monotonic() + 120
            while len(fake.delivered()) < threshold and time.monotonic() < deadline and proc.poll() is None:
                await asyncio.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            crashes += 1
            # The kill really came mid-broadcast.
            assert threshold <= len(fake.delivered()) < len(chats)
        proc = _spawn(settings.database_url, server.base_url, tmp_path, running)
        await asyncio.to_thread(proc.wait, 180)
        assert proc.returncode == 0, (tmp_path / "sender.log").read_text()
    per_chat = fake.delivered_per_chat()
    assert set(per_chat) == set(chats)
    duplicates = sum(n - 1 for n in per_chat.values())
    assert duplicates <= crashes
    async with db.session() as session:
        assert await outbox_store.unfinished(session, ["telegram"]) == 0


async def test_two_senders_share_the_work_and_the_bot_limit(db: Database, settings: Settings) -> None:
    chats = await bound_groups(db, 60)
    await queue(db, chats)
    fake = FakeTelegram(rate_429=0.05)
    with TelegramServer(fake) as server:
        senders = []
        for _ in range(2):
            # A request timed out by the client may still have been delivered (its retry would be a second copy):
            # a long timeout keeps a loaded CI machine from turning slowness into that ambiguity.
            sender = _sender(db, settings.model_copy(update={"outbox_senders": 2}), server, timeout=15)
            sender.limits = {"telegram": PlatformLimits.build(20, 20, share=2)}
            senders.append(sender)
        await asyncio.wait_for(asyncio.gather(*(s.drain(until_empty=True) for s in senders)), timeout=60)
    per_chat = fake.delivered_per_chat()
    assert set(per_chat) == set(chats) and set(per_chat.values()) == {1}
    assert fake.max_in_window(1.0) <= 20
    owners = {r.chat_id for r in await _rows(db)}
    assert owners == set(chats)


async def test_long_text_and_attachments_reach_the_group(db: Database, settings: Settings, tmp_path: Path) -> None:
    chats = await bound_groups(db, 1)
    photo, sheet = tmp_path / "anh.png", tmp_path / "bao-cao.xlsx"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n")
    sheet.write_bytes(b"PK\x03\x04")
    long_text = "\n".join(f"Dòng {i}: kiểm tra điểm phát sóng" for i in range(300))
    async with db.session() as session:
        await outbox_store.enqueue(
            session,
            platform="telegram",
            chat_id=chats[0],
            text=long_text,
            kind="digest",
            attachments=[
                {"filename": "anh.png", "mime_type": "image/png", "path": str(photo)},
                {"filename": "bao-cao.xlsx", "mime_type": "application/vnd.ms-excel", "path": str(sheet)},
            ],
        )
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        await asyncio.wait_for(_sender(db, settings, server).drain(until_empty=True), timeout=20)
    calls = fake.delivered()
    texts = [c.text for c in calls if c.method == "sendMessage"]
    assert len(texts) == 3 and all(len(t) <= 4096 for t in texts)
    assert "\n".join(texts) == long_text
    assert [(c.method, c.text) for c in calls[3:]] == [
        ("sendPhoto", "<file anh.png>"),
        ("sendDocument", "<file bao-cao.xlsx>"),
    ]


async def test_a_summary_whose_text_is_retried_still_arrives_text_first(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    chats = await bound_groups(db, 1)
    sheet = tmp_path / "bao-cao.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    files = [{"filename": "bao-cao.xlsx", "mime_type": "application/vnd.ms-excel", "path": str(sheet)}]
    async with db.session() as session:
        for text, attachments in (("Báo cáo tuần: 12 phiếu", None), ("Tệp báo cáo tuần", files)):
            await outbox_store.enqueue(
                session, platform="telegram", chat_id=chats[0], text=text, kind="summary", attachments=attachments
            )
    fake = FakeTelegram()
    fake.script(chats[0], Fault("500"))  # the text's first attempt fails; the files are claimed in the same batch
    with TelegramServer(fake) as server:
        await asyncio.wait_for(_sender(db, settings, server).drain(until_empty=True), timeout=20)
    assert [(c.method, c.text) for c in fake.delivered()] == [
        ("sendMessage", "Báo cáo tuần: 12 phiếu"),
        ("sendMessage", "Tệp báo cáo tuần"),
        ("sendDocument", "<file bao-cao.xlsx>"),
    ]


async def test_missing_attachment_file_fails_with_reason(db: Database, settings: Settings, tmp_path: Path) -> None:
    chats = await bound_groups(db, 1)
    async with db.session() as session:
        await outbox_store.enqueue(
            session,
            platform="telegram",
            chat_id=chats[0],
            text="Báo cáo tuần",
            kind="summary",
            attachments=[{"filename": "x.pdf", "mime_type": "application/pdf", "path": str(tmp_path / "x.pdf")}],
        )
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        await asyncio.wait_for(_sender(db, settings, server).drain(until_empty=True), timeout=20)
    [row] = await _rows(db)
    assert row.state == OutboxState.FAILED and "không đọc được tệp đính kèm" in (row.last_error or "")
    assert fake.calls == []


async def test_rows_whose_lease_ran_out_are_handed_back_unsent(db: Database, settings: Settings) -> None:
    chats = await bound_groups(db, 3)
    await queue(db, chats)
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        sender = _sender(db, settings, server)
        async with db.session() as session:
            rows = await outbox_store.claim(
                session, owner=sender.owner, platforms=["telegram"], now=sender.clock(), lease_seconds=300, limit=10
            )
        for row in rows:
            row.lease_until = sender.clock()  # as if slow sends had used the whole lease
        for row in rows:
            await sender._send(_job(row))
    assert fake.calls == []
    assert {r.state for r in await _rows(db)} == {OutboxState.PENDING}
    assert {r.attempts for r in await _rows(db)} == {0}


def _job(row: OutboxMessage) -> Job:
    return Job(rows=[row], text=row.text)


async def test_group_upgraded_to_supergroup_is_followed(db: Database, settings: Settings) -> None:
    chats = await bound_groups(db, 1)
    await queue(db, chats)
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        fake.script(chats[0], Fault("migrate", new_chat_id=-1009999))
        await asyncio.wait_for(_sender(db, settings, server).drain(until_empty=True), timeout=20)
    assert fake.delivered_per_chat() == {"-1009999": 1}
    [row] = await _rows(db)
    assert row.state == OutboxState.SENT and row.chat_id == "-1009999"
    async with db.session() as session:
        assert await org_store.get_binding(session, "telegram", "-1009999") is not None
        assert await org_store.get_binding(session, "telegram", chats[0], active_only=False) is None


async def test_quiet_hours_hold_what_the_bot_starts_and_never_replies(db: Database, settings: Settings) -> None:
    chats = await bound_groups(db, 4)
    night = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # 22:30 in Việt Nam
    async with db.session() as session:
        for chat, kind in zip(chats, ("digest", "reply", "directive_urgent", "directive_reminder"), strict=True):
            await outbox_store.enqueue(session, platform="telegram", chat_id=chat, text=kind, kind=kind, now=night)
    quiet = settings.model_copy(update={"quiet_hours_start": 21, "quiet_hours_end": 7})
    fake = FakeTelegram()
    moment = [night]
    with TelegramServer(fake) as server:
        sender = _sender(db, quiet, server, clock=lambda: moment[0])
        sender.settings = quiet.model_copy(update={"outbox_poll_seconds": 0.05})
        while await sender.run_once():
            pass
        # The reply and the urgent directive go at once; the digest and the reminder wait for 07:00.
        assert set(fake.delivered_per_chat()) == {chats[1], chats[2]}
        held = {r.chat_id: r for r in await _rows(db)}
        morning = datetime(2026, 11, 24, 0, 0)  # 07:00 in Việt Nam, as the database gives it back
        for chat in (chats[0], chats[3]):
            assert held[chat].state == OutboxState.PENDING
            assert held[chat].next_attempt_at.replace(tzinfo=None) == morning
        moment[0] = datetime(2026, 11, 23, 23, 59, tzinfo=UTC)  # 06:59
        assert await sender.run_once() == 0
        moment[0] = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
        while await sender.run_once():
            pass
    assert set(fake.delivered_per_chat()) == set(chats)


async def test_private_chats_are_paced_one_a_second_while_groups_keep_their_burst(
    db: Database, settings: Settings, clock: FakeClock
) -> None:
    private, group = "5550001", "-1005550002"
    running = RunningClock(clock)  # a weekday morning: quiet hours would hold the reminders
    for i in range(3):
        await queue(db, [private, group], text=f"Nhắc việc {i}", kind="reminder", now=running())
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        fast = settings.model_copy(update={"outbox_poll_seconds": 0.05})
        transport = TelegramTransport("123:abc", server.base_url, timeout=1)
        sender = OutboxSender(db, fast, {"telegram": transport}, running)  # the limits the settings give
        await asyncio.wait_for(sender.drain(until_empty=True), timeout=30)
        await transport.close()
    assert fake.delivered_per_chat() == {private: 3, group: 3}
    # Measured on the server's clock: never two messages to the person within a second; the group is not slowed.
    assert fake.max_in_window(1.0, private) == 1
    assert fake.max_in_window(1.0, group) == 3


def test_chat_windows_stay_bounded_over_a_national_broadcast_and_busy_chats_keep_their_limit() -> None:
    limits = PlatformLimits.build(30, 20, 1)
    busy = "-100busy"
    for _ in range(20):
        limits.chat(busy).record(0.0)
    # A burst to many groups within the busy group's minute: its spent budget survives every pruning.
    for n in range(2 * PRUNE_AT):
        limits.chat(f"-200{n}").record(limits.chat_ready_at(f"-200{n}", 1.0))
    assert limits.chat_ready_at(busy, 1.0) > 59
    # Then 20,000 groups once each at 30 messages a second: only the chats of the last minute are held.
    now = 120.0
    for n in range(20_000):
        chat = f"-300{n}"
        assert limits.chat_ready_at(chat, now) == now
        limits.chat(chat).record(now)
        now += 1 / 30
    assert len(limits.chats) <= 2 * 30 * 61 + PRUNE_AT
    assert limits.chat_ready_at(busy, now) == now  # its minute is long over


async def test_a_busy_groups_receipts_come_every_few_seconds_merged_not_after_its_minute(
    db: Database, settings: Settings
) -> None:
    chats = await bound_groups(db, 1)
    group = chats[0]
    queued: dict[int, float] = {}
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        # Eight messages per 8 s window: four at once, then one a second.
        sender = _sender(db, settings, server, rate=100, per_chat=8, window=8, timeout=5)
        stop = asyncio.Event()
        draining = asyncio.create_task(sender.drain(stop))
        for i in range(24):  # a burst of /ghi in one group: a receipt every 0.1 s
            async with db.session() as session:
                await outbox_store.enqueue(
                    session, platform="telegram", chat_id=group, text=f"Đã ghi #{i}", kind="reply"
                )
            queued[i] = time.monotonic()
            await asyncio.sleep(0.1)
        for _ in range(100):
            if "Đã ghi #23" in "\n".join(c.text for c in fake.delivered()):
                break
            await asyncio.sleep(0.1)
        stop.set()
        await draining
    delivered = fake.delivered()
    # Every receipt exactly once, in order, the later ones merged.
    assert "\n\n".join(c.text for c in delivered) == "\n\n".join(f"Đã ghi #{i}" for i in range(24))
    arrived = {int(n): c.at for c in delivered for n in re.findall(r"#(\d+)", c.text)}
    # None waited for the group's window to run out (8 s after the first): each came within a few seconds.
    assert max(arrived[i] - queued[i] for i in range(24)) < 4.0
    assert len(delivered) < 12
    assert fake.max_in_window(8.0, group) <= 8
    rows = await _rows(db)
    assert all(r.state == OutboxState.SENT and r.attempts == 1 for r in rows)


async def test_a_sent_merged_message_marks_every_reply_it_carried_once(db: Database, settings: Settings) -> None:
    chats = await bound_groups(db, 1)
    await queue(db, chats * 3, text="Đã ghi #{i}", kind="reply")
    fake = FakeTelegram()
    with TelegramServer(fake) as server:
        await asyncio.wait_for(_sender(db, settings, server).drain(until_empty=True), timeout=20)
    assert [c.text for c in fake.delivered()] == ["Đã ghi #0\n\nĐã ghi #1\n\nĐã ghi #2"]
    rows = await _rows(db)
    assert [(r.state, r.attempts, r.lease_owner, r.lease_until) for r in rows] == [
        (OutboxState.SENT, 1, None, None)
    ] * 3
    assert [r.merged_into_id for r in rows] == [None, rows[0].id, rows[0].id]
    assert len({r.sent_at for r in rows}) == 1 and rows[0].sent_at is not None
