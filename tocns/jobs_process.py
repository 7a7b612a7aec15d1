"""The jobs process of `tocns serve`: the scheduler and the outbox sender, apart from the web workers.

The busy Monday tick draws workbooks, builds digests and collects garbage for a minute or two; in the process that
answers webhooks that stalled the event loop Telegram waits on (p99 112 ms at 50 /s, bench/RESULTS.md). On
PostgreSQL `tocns serve` therefore runs the webhook workers without them and one process of its own for them
(`tocns jobs`), which it starts, restarts when it dies and stops with itself. On SQLite one process writes: the
worker keeps everything, as before (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tocns.app import BotApp, hold_full_collections, settle_for_serving, start_sender
from tocns.config import Settings
from tocns.core.clock import utcnow
from tocns.core.supervisor import Backoff

log = logging.getLogger(__name__)

# The command `tocns serve` runs as its jobs process: this interpreter, whatever tree it imports tocns from.
JOBS_COMMAND = (sys.executable, "-m", "tocns.cli", "jobs")
# A jobs process that lived this long before dying is restarted at once; one that dies at start waits longer each
# time (a broken configuration must not spin the machine), up to RESTART_MAX_SECONDS.
HEALTHY_SECONDS = 60.0
RESTART_MAX_SECONDS = 30.0
# How long a stopping jobs process has to finish the message it is sending before it is killed.
STOP_SECONDS = 30.0
# How often the jobs process looks whether its parent is still there.
ORPHAN_CHECK_SECONDS = 2.0
# Where the jobs process publishes its loops' progress for the web workers' /healthz (set by `tocns serve`).
HEALTH_FILE_ENV = "TOCNS_JOBS_HEALTH_FILE"
# How often it publishes (a third of LOOP_STALL_SECONDS when that is shorter), and the name it is reported under.
HEALTH_WRITE_SECONDS = 5.0
LOOP_NAME = "jobs_process"


def separate_jobs(settings: Settings) -> bool:
    """Whether `tocns serve` runs the scheduler and sender in a jobs process of their own (PostgreSQL), rather than
    in its one worker (SQLite: one process writes)."""
    return not settings.is_sqlite


async def run_jobs(settings: Settings, stop: asyncio.Event) -> None:
    """Run the scheduler and the outbox sender until `stop` is set, then stop them and release the database."""
    from tocns.outbox.sender import stop_sender
    from tocns.scheduler import start_scheduler

    bot = await BotApp.create(settings)
    settle_for_serving()
    release_collections = hold_full_collections()
    scheduler = start_scheduler(bot)
    sender = start_sender(bot)
    health_file = os.environ.get(HEALTH_FILE_ENV)
    publisher = asyncio.create_task(_publish_health(bot, Path(health_file), stop)) if health_file else None
    try:
        await stop.wait()
    finally:
        if publisher is not None:
            await publisher
        if sender is not None:
            await stop_sender(sender)
        scheduler.shutdown(wait=False)
        release_collections()
        await bot.close()


def serve_jobs(settings: Settings) -> None:
    """`tocns jobs`: run the jobs until SIGTERM or SIGINT (Ctrl+C), then stop cleanly."""

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        orphaned = asyncio.create_task(_stop_when_orphaned(stop))
        try:
            await run_jobs(settings, stop)
        finally:
            orphaned.cancel()

    asyncio.run(go())


async def _stop_when_orphaned(stop: asyncio.Event) -> None:
    """Set `stop` once the parent (`tocns serve`) is gone, even killed: a second server must not find this one's
    scheduler and sender still running."""
    parent = os.getppid()
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning("tocns serve is gone: the jobs process stops")
            stop.set()
        await asyncio.sleep(ORPHAN_CHECK_SECONDS)


def publish_health(path: Path, now: datetime, loops: dict[str, dict[str, object]]) -> None:
    """Write the jobs process's loops as of `now` where the web workers read them (whole, or not at all)."""
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps({"at": now.isoformat(), "loops": loops}), encoding="utf-8")
    partial.replace(path)


async def _publish_health(bot: BotApp, path: Path, stop: asyncio.Event) -> None:
    stall = bot.settings.loop_stall_seconds
    every = min(HEALTH_WRITE_SECONDS, stall / 3)
    while not stop.is_set():
        try:
            publish_health(path, bot.clock(), bot.loops.report(stall))
        except OSError as exc:  # a full disk must not stop the jobs; /healthz then says the report is late
            log.warning("could not publish the jobs' health to %s: %s", path, exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


def jobs_health(now: datetime, stall_seconds: float) -> dict[str, dict[str, Any]]:
    """The loops of `tocns serve`'s jobs process (scheduler, sender) as it last published them, plus its own entry
    `jobs_process`, stalled when that report is older than `stall_seconds` (frozen, or dead and not coming back);
    nothing in a process that runs its jobs itself."""
    path = os.environ.get(HEALTH_FILE_ENV)
    if not path:
        return {}
    at: datetime | None = None
    loops: dict[str, dict[str, Any]] = {}
    error: str | None = None
    try:
        published = json.loads(Path(path).read_text(encoding="utf-8"))
        at = datetime.fromisoformat(published["at"])
        loops = dict(published["loops"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        error = f"chưa đọc được báo cáo của tiến trình việc định kỳ ({type(exc).__name__})"
    age = None if at is None else (now - at).total_seconds()
    loops[LOOP_NAME] = {
        "last_progress": None if at is None else at.isoformat(),
        "seconds_since_progress": None if age is None else round(age, 1),
        "due": True,
        "stalled": age is None or age > stall_seconds,
        "error": error,
        "restarts": 0,
    }
    return loops


class JobsProcess:
    """The jobs process a `tocns serve` parent supervises: started with it, restarted when it dies (after a
    growing pause when it keeps dying at start), stopped (SIGTERM, then killed) with it."""

    def __init__(self, command: Sequence[str] = JOBS_COMMAND, health_file: Path | None = None) -> None:
        self.command = list(command)
        self.health_file = health_file
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        """Start the jobs process and the thread that restarts it; with a health file, tell the web workers where
        it is (the environment they inherit) and date it now, so one that never comes up is seen stalled."""
        if self.health_file is not None:
            os.environ[HEALTH_FILE_ENV] = str(self.health_file)
            publish_health(self.health_file, utcnow(), {})
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="tocns-jobs-watch", daemon=True)
        self._watcher.start()

    def _spawn(self) -> None:
        with self._lock:
            if not self._stopping.is_set():
                # Its output goes where the server's does; its own process group keeps a terminal's Ctrl+C for the
                # parent, which stops it after the web workers (no half-stopped layout).
                self.process = subprocess.Popen(self.command, start_new_session=True)

    def _watch(self) -> None:
        backoff = Backoff(1.0, RESTART_MAX_SECONDS)
        while not self._stopping.is_set():
            process = self.process
            if process is None:
                return
            started = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= HEALTHY_SECONDS:
                backoff.reset()
            delay = backoff.next()
            print(
                f"Tiến trình việc định kỳ (bộ lập lịch, bộ gửi tin) đã dừng (mã {code}): khởi động lại sau "
                f"{delay:.0f} giây.",
                file=sys.stderr,
                flush=True,
            )
            if self._stopping.wait(delay):
                return
            self.restarts += 1
            self._spawn()

    def stop(self, timeout: float = STOP_SECONDS) -> int | None:
        """Stop the jobs process (SIGTERM; killed after `timeout` seconds) and its watcher; its exit code."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("the jobs process did not stop within %.0f s: killed", timeout)
                process.kill()
                process.wait()
        if self._watcher is not None:
            self._watcher.join(5)
        return process.returncode
