"""`tocns serve`'s process layout: on PostgreSQL the webhook workers answer and one jobs process runs the scheduler
and the sender, restarted when it dies and stopped with the server; on SQLite one process does everything."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.test_cli import TOCNS
from tests.factories import MEMBER, free_port, member_in_bound_group
from tests.fakes.platforms import TG_HEADER, TG_SECRET, stop_tocns, tg_message_update
from tests.fakes.telegram_server import TelegramServer
from tocns.app import BotApp

GROUP = -1001888


def _jobs_processes(pid: int) -> list[int]:
    """The `tocns jobs` processes among the server's children (any of its threads may have started one)."""
    pids = [int(p) for task in Path(f"/proc/{pid}/task").glob("*") for p in _read(task / "children").split()]
    found = []
    for child in pids:
        try:
            if Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[-3:-1] == [b"tocns.cli", b"jobs"]:
                found.append(child)
        except FileNotFoundError:
            continue
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:  # a thread that just ended
        return ""


def _env(db_url: str, api_base_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "AUTO_MIGRATE": "false",
        "TELEGRAM_BOT_TOKEN": "123:jobs-process",
        "TELEGRAM_API_BASE_URL": api_base_url,
        "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "PUBLIC_BASE_URL": "https://bot.example.vn",
        "LINK_SIGNING_SECRET": "jobs-process-link-secret-0123456789",
        "OUTBOX_POLL_SECONDS": "0.2",
        "FILES_DIR": str(tmp_path / "files"),
        # The jobs process publishes its health every third of this: a frozen one shows within seconds.
        "LOOP_STALL_SECONDS": "6",
    }


async def _until(check: object, seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.1)):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)


def _receipts(server: TelegramServer) -> list[int]:
    return [int(n) for call in server.fake.delivered() for n in re.findall(r"Đã ghi #(\d+)", call.text)]


async def _health_while(client: httpx.AsyncClient, wanted: Any) -> dict[str, Any]:
    """The /healthz body once its status is `wanted` (within 30 s), else the last one."""
    body: dict[str, Any] = {}
    for _ in range(300):
        response = await client.get("/healthz")
        body = dict(response.json())
        if wanted(response.status_code):
            return body
        await asyncio.sleep(0.1)
    return body


async def _healthy(client: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> dict[str, object]:
    for _ in range(300):
        try:
            response = await client.get("/healthz")
            if response.status_code == 200:
                return dict(response.json())
        except httpx.TransportError:
            pass
        assert proc.poll() is None, "tocns serve exited"
        await asyncio.sleep(0.1)
    raise AssertionError("tocns serve never answered /healthz")


async def test_on_postgres_the_jobs_run_in_a_process_of_their_own_restarted_when_it_dies(
    app: BotApp, db_url: str, is_postgres: bool, tmp_path: Path
) -> None:
    if not is_postgres:
        pytest.skip("a separate jobs process is PostgreSQL's layout (SQLite: one process writes)")
    await member_in_bound_group(app, GROUP)
    port = free_port()
    with TelegramServer() as tg_server:
        proc = subprocess.Popen(
            [*TOCNS, "serve", "--workers", "1", "--port", str(port)],
            env=_env(db_url, tg_server.base_url, tmp_path),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                await _healthy(client, proc)
                await _until(lambda: _jobs_processes(proc.pid))
                first = _jobs_processes(proc.pid)
                assert len(first) == 1, "no jobs process beside the web worker"

                async def ghi(n: int) -> None:
                    update = tg_message_update(f"/ghi vneid {n}", chat_id=GROUP, user_id=int(MEMBER))
                    response = await client.post("/webhook/telegram", json=update, headers={TG_HEADER: TG_SECRET})
                    assert response.status_code == 200

                await ghi(1)
                await _until(lambda: len(set(_receipts(tg_server))) >= 1)
                receipts_before_kill = len(set(_receipts(tg_server)))
                health = await _healthy(client, proc)
                # A frozen jobs process (nothing sent, no tick) turns the web worker's /healthz to 503, and back.
                os.kill(first[0], signal.SIGSTOP)
                frozen = await _health_while(client, lambda status: status == 503)
                os.kill(first[0], signal.SIGCONT)
                thawed = await _health_while(client, lambda status: status == 200)
                os.kill(first[0], signal.SIGKILL)  # the jobs process dies (out of memory, a bug, an operator)
                await _until(lambda: _jobs_processes(proc.pid) not in ([], first))
                second = _jobs_processes(proc.pid)
                await ghi(2)
                await _until(lambda: len(set(_receipts(tg_server))) >= 2)
                receipts_after_restart = len(set(_receipts(tg_server)))
        finally:
            stderr = stop_tocns(proc, timeout=60)
    # The web worker's /healthz reports its own loop and the jobs process's, as that process last published them.
    loops = set(health.get("loops", {}))  # type: ignore[call-overload]
    assert {"inbound_queue", "scheduler", "jobs_process"} <= loops, health
    assert frozen["loops"]["jobs_process"]["stalled"] is True, frozen
    assert thawed["loops"]["jobs_process"]["stalled"] is False, thawed
    assert len(first) == 1, stderr[-2000:]
    assert receipts_before_kill == 1  # the jobs process sends the receipts
    assert len(second) == 1 and second != first, stderr[-2000:]  # restarted
    assert receipts_after_restart == 2  # and the new one sends (at least once: the killed one's may come again)
    assert "khởi động lại" in stderr
    # Ctrl+C stops everything cleanly: the server exits 0 and leaves no jobs process behind.
    assert proc.returncode == 0, stderr[-2000:]
    assert not Path(f"/proc/{second[0]}").exists()
    assert "Traceback" not in stderr


async def test_on_sqlite_one_process_runs_the_webhook_and_the_jobs(tmp_path: Path) -> None:
    port = free_port()
    with TelegramServer() as tg_server:
        env = {**_env(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}", tg_server.base_url, tmp_path)}
        env["AUTO_MIGRATE"] = "true"
        proc = subprocess.Popen([*TOCNS, "serve", "--port", str(port)], env=env, cwd=tmp_path, stderr=subprocess.PIPE)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                health = await _healthy(client, proc)
                # Each loop shows in /healthz from its first round: the first answer may come before the queue's.
                for _ in range(300):
                    if {"inbound_queue", "scheduler"} <= set(health.get("loops", {})):  # type: ignore[call-overload]
                        break
                    await asyncio.sleep(0.1)
                    health = await _healthy(client, proc)
            jobs = _jobs_processes(proc.pid)
        finally:
            stderr = stop_tocns(proc, timeout=60)
    assert jobs == [], stderr[-2000:]
    loops = set(health.get("loops", {}))  # type: ignore[call-overload]
    assert {"inbound_queue", "scheduler"} <= loops and "jobs_process" not in loops, health
