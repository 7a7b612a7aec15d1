"""`tocns serve --workers N`: several processes behind one port, one webhook registration, one sender."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlmodel import func, select

from tests.cli.test_cli import TOCNS
from tests.factories import MEMBER, free_port, member_in_bound_group
from tests.fakes.platforms import TG_HEADER, TG_SECRET, stop_tocns, tg_message_update
from tests.fakes.telegram_server import TelegramServer
from tocns.app import BotApp
from tocns.features.activity.models import ActivityRecord

GROUP = -1001777


def _children(pid: int) -> list[int]:
    """The worker processes uvicorn spawned (not its multiprocessing resource tracker)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [int(p) for p in path.read_text().split()] if path.exists() else []
    return [p for p in pids if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]


def test_serve_refuses_several_workers_on_sqlite(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"}
    done = subprocess.run(
        [*TOCNS, "serve", "--workers", "2"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "SQLite chỉ cho một tiến trình ghi" in done.stderr and "PostgreSQL" in done.stderr
    assert "Traceback" not in done.stderr


async def test_served_workers_record_each_update_once_and_send_each_receipt_once(
    app: BotApp, db_url: str, is_postgres: bool, tmp_path: Path
) -> None:
    # Two worker processes on PostgreSQL; on SQLite the same command with its one worker (in the main process).
    workers_wanted = 2 if is_postgres else 1
    await member_in_bound_group(app, GROUP)
    port = free_port()
    with TelegramServer() as tg_server:
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "AUTO_MIGRATE": "false",
            "TELEGRAM_BOT_TOKEN": "123:serve-workers",
            "TELEGRAM_API_BASE_URL": tg_server.base_url,
            "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
            "PUBLIC_BASE_URL": "https://bot.example.vn",
            "LINK_SIGNING_SECRET": "serve-workers-link-secret-0123456789",
            "OUTBOX_POLL_SECONDS": "0.2",
            "FILES_DIR": str(tmp_path / "files"),
        }
        proc = subprocess.Popen(
            [*TOCNS, "serve", "--workers", str(workers_wanted), "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                for _ in range(300):
                    try:
                        healthy = (await client.get("/healthz")).status_code == 200
                        if healthy and len(_children(proc.pid)) >= (workers_wanted if workers_wanted > 1 else 0):
                            break
                    except httpx.TransportError:
                        pass
                    if proc.poll() is not None:
                        break
                    await asyncio.sleep(0.1)
                workers = len(_children(proc.pid))
                member = int(MEMBER)
                updates = [tg_message_update(f"/ghi vneid {n}", chat_id=GROUP, user_id=member) for n in range(1, 13)]

                async def post(body: dict[str, object]) -> int:
                    response = await client.post("/webhook/telegram", json=body, headers={TG_HEADER: TG_SECRET})
                    return response.status_code

                # Every update twice (the platform's retries), all at once: both workers take some.
                statuses = await asyncio.gather(*(post(u) for u in updates + updates))
                for _ in range(300):
                    if len(_receipt_ids(tg_server)) >= 12:
                        break
                    await asyncio.sleep(0.1)
                await asyncio.sleep(1.0)  # a second sender, if there were one, would have sent again by now
                # Whichever worker answers the scrape, the counters are the whole server's.
                scrapes = [(await client.get("/metrics")).text for _ in range(6)]
        finally:
            stderr = stop_tocns(proc, timeout=30)
    assert workers == (2 if is_postgres else 0), stderr[-2000:]
    assert statuses == [200] * 24
    async with app.db.session() as session:
        records = await session.scalar(select(func.count()).select_from(ActivityRecord))
    assert records == 12
    # Each receipt reached the group exactly once (merged messages may carry several).
    mentioned = Counter(_receipt_ids(tg_server))
    assert len(mentioned) == 12 and set(mentioned.values()) == {1}
    # The webhook and the menu were registered once, by the parent, not once per worker.
    assert Counter(tg_server.fake.methods())["setWebhook"] == 1
    # Once per deployment: four scopes (default, private, groups, group admins), each for all and for "vi".
    assert len(tg_server.fake.menus) == 8 and Counter(tg_server.fake.methods())["setMyCommands"] == 8
    assert "Traceback" not in stderr.split("KeyboardInterrupt")[0]
    for text in scrapes:
        assert 'tocns_updates_received_total{outcome="new",platform="telegram"} 12.0' in text, text[-3000:]
        assert 'tocns_updates_received_total{outcome="duplicate",platform="telegram"} 12.0' in text
        assert 'tocns_commands_total{name="ghi",outcome="ok"} 12.0' in text


def _receipt_ids(server: TelegramServer) -> list[int]:
    """The record numbers of every receipt delivered to the group (a merged message may carry several)."""
    return [int(n) for call in server.fake.delivered() for n in re.findall(r"Đã ghi #(\d+)", call.text)]


async def test_only_one_process_sends_and_another_takes_over_when_it_stops(
    app: BotApp, db_url: str, is_postgres: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not is_postgres:
        pytest.skip("the sender election is a PostgreSQL advisory lock")
    from tocns.app import build_transports
    from tocns.db.engine import Database
    from tocns.outbox import sender as outbox_sender

    draining: list[int] = []

    async def fake_drain(self: outbox_sender.OutboxSender, stop: asyncio.Event | None = None, **_: object) -> None:
        draining.append(id(self.db))
        assert stop is not None
        await stop.wait()
        draining.remove(id(self.db))

    monkeypatch.setattr(outbox_sender.OutboxSender, "drain", fake_drain)
    monkeypatch.setattr(outbox_sender, "SENDER_TAKEOVER_SECONDS", 0.1)
    settings = app.settings.model_copy(update={"telegram_bot_token": "123:election"})
    first_db, second_db = Database(db_url), Database(db_url)  # two processes' own connection pools
    try:
        first = outbox_sender.start_sender(first_db, settings, build_transports(settings), app.clock)
        await asyncio.sleep(0.3)
        second = outbox_sender.start_sender(second_db, settings, build_transports(settings), app.clock)
        await asyncio.sleep(0.5)
        assert draining == [id(first_db)]  # the second worker waits instead of sending too
        await outbox_sender.stop_sender(first)
        for _ in range(50):
            if draining:
                break
            await asyncio.sleep(0.1)
        assert draining == [id(second_db)]  # and takes over once the first one stops
        await outbox_sender.stop_sender(second)
        assert draining == []
    finally:
        await first_db.dispose()
        await second_db.dispose()


def test_serve_with_an_unreachable_bot_api_says_why_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens here once the socket is closed
    token = "123456:SECRET-serve-token-abcdefghijklmnop"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{closed}",
        "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "PUBLIC_BASE_URL": "https://bot.example.vn",
        "LINK_SIGNING_SECRET": "serve-workers-link-secret-0123456789",
        "FILES_DIR": str(tmp_path / "files"),
    }
    done = subprocess.run([*TOCNS, "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Không khởi động được máy chủ webhook" in done.stderr and "TELEGRAM_BOT_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr and "SECRET-serve-token" not in done.stderr
