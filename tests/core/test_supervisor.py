"""The supervisor restarts a background task that ends unexpectedly (logged once per ending), backoff is capped,
and a loop counts as stalled only when work is due and it made no progress (issue 22)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import InterfaceError, OperationalError

from tests.factories import FakeClock
from tocns.core.supervisor import Backoff, LoopHealth, describe, is_outage, supervise


async def test_a_task_that_ends_unexpectedly_is_restarted_and_logged_once_each_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    health = LoopHealth()
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))
        if len(runs) == 2:
            return  # ended on its own: a bug, restarted too
        await stop.wait()  # the third run lives until stopped

    with caplog.at_level(logging.ERROR, logger="tocns.core.supervisor"):
        task = asyncio.create_task(supervise("sender", flaky, stop, health, Backoff(0.01, 0.02)))
        async with asyncio.timeout(5):
            while len(runs) < 3:
                await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, timeout=5)
    assert len(runs) == 3
    ended = [r.getMessage() for r in caplog.records if "ended" in r.getMessage()]
    assert len(ended) == 2
    assert "refused" in ended[0] and "returned without being stopped" in ended[1]
    assert "SELECT" not in ended[0]  # an outage is one line, without the SQL
    assert health.state("sender").restarts == 2


async def test_a_stopped_task_is_not_restarted() -> None:
    stop = asyncio.Event()
    runs: list[int] = []

    async def once() -> None:
        runs.append(1)
        stop.set()

    await asyncio.wait_for(supervise("loop", once, stop), timeout=5)
    assert runs == [1]


def test_backoff_doubles_up_to_its_cap_and_starts_again_after_a_success() -> None:
    backoff = Backoff(0.5, 4.0)
    delays = [backoff.next() for _ in range(8)]
    assert all(0.75 * 0.5 * 2**n <= d <= 0.5 * 2**n for n, d in enumerate(delays[:4]))
    assert all(3.0 <= d <= 4.0 for d in delays[4:])
    backoff.reset()
    assert backoff.next() <= 0.5


def test_outages_are_told_from_bugs() -> None:
    assert is_outage(OperationalError("x", {}, OSError("disk I/O error")))
    assert is_outage(InterfaceError("x", {}, Exception("connection is closed")))
    assert is_outage(ConnectionResetError()) and is_outage(TimeoutError())
    assert not is_outage(KeyError("bug")) and not is_outage(ValueError("bug"))
    assert describe(OperationalError("SELECT secret FROM t", {"p": "x"}, OSError("gone"))) == "OperationalError: gone"


def test_a_loop_is_stalled_only_with_work_due_and_no_progress_for_the_stall_time() -> None:
    clock = FakeClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    health = LoopHealth(clock)
    health.progress("sender", due=False)
    clock.advance(minutes=30)
    assert not health.stalled("sender", 120)  # idle: nothing due, nothing to do
    health.progress("sender", due=True)
    clock.advance(seconds=100)
    assert not health.stalled("sender", 120)
    health.failed("sender", OSError("refused"))  # the work it knew of stays due
    clock.advance(seconds=21)
    assert health.stalled("sender", 120)
    report = health.report(120)["sender"]
    assert report["stalled"] is True and report["due"] is True and report["error"] == "OSError: refused"
    health.progress("sender", due=True)
    assert not health.stalled("sender", 120) and health.report(120)["sender"]["error"] is None
