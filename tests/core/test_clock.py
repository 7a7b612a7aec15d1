"""One clock: no module reads the wall clock but tocns/core/clock.py, and TOCNS_CLOCK_START moves a process's."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tocns.core.clock import CLOCK_START_ENV, parse_clock_start

ROOT = Path(__file__).resolve().parents[2]
# Calls that read the wall clock: datetime.now(), datetime.utcnow(), datetime.today(), date.today(), time.time().
WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"), ("time", "time")}


def _wall_clock_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if (name, node.func.attr) in WALL_CLOCK:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}.{node.func.attr}()")
    return found


def test_only_the_clock_module_reads_the_wall_clock() -> None:
    clock = ROOT / "tocns" / "core" / "clock.py"
    assert _wall_clock_calls(clock)  # the check does see a wall-clock read where there is one
    offenders = [
        hit for path in sorted((ROOT / "tocns").rglob("*.py")) if path != clock for hit in _wall_clock_calls(path)
    ]
    assert offenders == [], "take now from the injected clock (BotApp.clock) or tocns.core.clock.utcnow"


def _process_now(value: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, CLOCK_START_ENV: value}
    code = "from tocns.core.clock import utcnow; print(utcnow().isoformat())"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_a_process_clock_starts_at_tocns_clock_start_and_moves_on() -> None:
    done = _process_now("2027-02-05T16:00+07:00")  # Tết eve, 16:00 in Việt Nam
    assert done.returncode == 0, done.stderr
    now = datetime.fromisoformat(done.stdout.strip())
    start = datetime(2027, 2, 5, 9, 0, tzinfo=UTC)
    assert start <= now < start + timedelta(seconds=60)


@pytest.mark.parametrize("value", ["2027-02-05 16:00", "ngày mai", "2027-13-01T00:00+07:00"])
def test_a_clock_start_without_offset_or_unreadable_is_refused(value: str) -> None:
    done = _process_now(value)
    assert done.returncode != 0
    assert CLOCK_START_ENV in done.stderr and "không hợp lệ" in done.stderr
    with pytest.raises(ValueError):
        parse_clock_start(value)
