"""Helpers shared by the benchmark scripts (run as `python bench/<name>.py`, so this is importable)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

Clock = Callable[[], datetime]


def clock_at(local: str) -> Clock:
    """The bot's clock for a bench run (its --at): starting at a local 'YYYY-MM-DD HH:MM' (Asia/Ho_Chi_Minh) and
    moving on at real speed, so the figures do not depend on the hour the bench is run."""
    from tests.factories import VN, FakeClock, RunningClock

    try:
        start = datetime.strptime(local.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=VN)
    except ValueError as exc:
        raise SystemExit(f'--at {local!r}: write it like "2026-11-23 09:00"') from exc
    return RunningClock(FakeClock(start))


async def recreate_postgres_database(url: str) -> None:
    """Drop and create the database named at the end of a postgresql+asyncpg URL (a scratch database)."""
    import asyncpg

    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql").rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def watch_loop(stalls: list[float], stop: asyncio.Event, sampler: StallSampler | None = None) -> None:
    """Record how late each 10 ms sleep wakes up: the event loop's stalls while a tick runs (and tell `sampler` the
    loop is alive at each wake)."""
    while not stop.is_set():
        t = time.perf_counter()
        if sampler is not None:
            sampler.beat = t
        await asyncio.sleep(0.01)
        stalls.append(time.perf_counter() - t - 0.01)


class StallSampler:
    """A thread that, while the loop's watcher has not woken for `late` seconds, samples the loop thread's stack
    every 5 ms: what the loop is busy with during its stalls, by the innermost frames of the project and overall."""

    def __init__(self, late: float = 0.05) -> None:
        import threading
        from collections import Counter

        self.beat = time.perf_counter()
        self.late = late
        self.samples: Counter[str] = Counter()
        self._target = threading.get_ident()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="stall-sampler")

    def __enter__(self) -> StallSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        # faulthandler walks the stacks in C: Python's own view of another running thread's frames
        # (sys._current_frames) crashed CPython 3.11 once here.
        import faulthandler
        import tempfile

        header = f"hread 0x{self._target:016x}"
        with tempfile.TemporaryFile("w+") as dump:
            while not self._stop.wait(0.005):
                if time.perf_counter() - self.beat < self.late:
                    continue
                dump.seek(0)
                dump.truncate()
                faulthandler.dump_traceback(dump, all_threads=True)
                dump.seek(0)
                block = dump.read().split(header, 1)[-1].split("\n\n", 1)[0]
                frames = [line.strip() for line in block.splitlines()[1:] if line.strip().startswith("File ")]
                ours = next((f for f in frames if "/tocns/" in f), None)
                inner = frames[0] if frames else None
                self.samples[f"{_short(ours)} <- innermost {_short(inner)}"] += 1

    def report(self, top: int = 12) -> str:
        """The most sampled places, each with its share of the samples (5 ms each)."""
        total = sum(self.samples.values())
        lines = [f"  stall samples (5 ms each, loop late by {self.late * 1000:.0f} ms or more): {total}"]
        for place, count in self.samples.most_common(top):
            lines.append(f"    {count:5d} {100 * count / max(1, total):5.1f}%  {place}")
        return "\n".join(lines)


def _short(frame: str | None) -> str | None:
    """`File "/a/b/c/d.py", line 12 in f` as `c/d.py:12 f`."""
    if frame is None:
        return None
    path, _, rest = frame.removeprefix('File "').partition('", line ')
    return f"{'/'.join(path.rsplit('/', 2)[-2:])}:{rest.replace(' in ', ' ', 1)}"
