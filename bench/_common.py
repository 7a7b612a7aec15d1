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
            sched = _thread_schedstat()
            others = _other_threads_cpu()
        await asyncio.sleep(0.01)
        late = time.perf_counter() - t - 0.01
        stalls.append(late)
        if sampler is not None and late >= sampler.late:
            sampler.split(late, sched, _thread_schedstat(), _other_threads_cpu() - others)


def _other_threads_cpu() -> float:
    """Seconds on a CPU of this process's threads but the calling one (Linux; 0 elsewhere)."""
    import glob
    import threading

    me, total = threading.get_native_id(), 0.0
    for path in glob.glob("/proc/self/task/*/schedstat"):
        if path.split("/")[-2] == str(me):
            continue
        try:
            with open(path) as stat:
                total += int(stat.read().split()[0]) / 1e9
        except OSError:
            continue
    return total


def _thread_schedstat() -> tuple[float, float]:
    """The calling thread's seconds on a CPU and seconds runnable but waiting for one (Linux schedstat, else 0)."""
    try:
        with open("/proc/thread-self/schedstat") as stat:
            on_cpu, waiting, _slices = stat.read().split()
    except OSError:
        return 0.0, 0.0
    return int(on_cpu) / 1e9, int(waiting) / 1e9


class StallSampler:
    """A thread that, while the loop's watcher has not woken for `late` seconds, samples the loop thread's stack
    every 5 ms: what the loop is busy with during its stalls, by the innermost frames of the project and overall."""

    def __init__(self, late: float = 0.05, stacks: bool = True) -> None:
        import threading
        from collections import Counter

        self.beat = time.perf_counter()
        self.late = late
        # Without stacks only the stalls' split is kept: the dumps hold the GIL while they write their file.
        self.stacks = stacks
        self.samples: Counter[str] = Counter()
        # Each long stall split by the loop thread's schedstat: (late, running, waiting for a CPU); the rest of it
        # the thread slept (waiting for the GIL, or blocked in a call).
        self.splits: list[tuple[float, float, float, float]] = []
        self._target = threading.get_ident()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="stall-sampler")

    def __enter__(self) -> StallSampler:
        if self.stacks:
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self.stacks:
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

    def split(self, late: float, before: tuple[float, float], after: tuple[float, float], others: float) -> None:
        """Note how the loop thread spent a stall of `late` seconds, from its schedstat before and after, and how
        long the process's other threads ran meanwhile."""
        self.splits.append((late, after[0] - before[0], after[1] - before[1], others))

    def report(self, top: int = 12) -> str:
        """The most sampled places, each with its share of the samples (5 ms each), and the longest stalls split."""
        total = sum(self.samples.values())
        lines = [f"  stalls of {self.late * 1000:.0f} ms or more, the loop thread's time (schedstat): running / "
                 "waiting for a CPU / asleep (the GIL, a blocking call); the other threads' running time"]  # fmt: skip
        for late, running, waiting, others in sorted(self.splits, reverse=True)[:8]:
            asleep = max(0.0, late + 0.01 - running - waiting)
            lines.append(
                f"    {late * 1000:6.0f} ms: {running * 1000:5.0f} / {waiting * 1000:5.0f} / {asleep * 1000:5.0f}; "
                f"{others * 1000:5.0f}"
            )
        sums = [sum(part[i] for part in self.splits) for i in range(3)]
        lines.append(
            f"    all {len(self.splits)}: {sums[0]:.2f} s late; {sums[1]:.2f} s running, "
            f"{sums[2]:.2f} s waiting for a CPU"
        )
        lines.append(f"  stall samples (5 ms each, loop late by {self.late * 1000:.0f} ms or more): {total}")
        for place, count in self.samples.most_common(top):
            lines.append(f"    {count:5d} {100 * count / max(1, total):5.1f}%  {place}")
        return "\n".join(lines)


def _short(frame: str | None) -> str | None:
    """`File "/a/b/c/d.py", line 12 in f` as `c/d.py:12 f`."""
    if frame is None:
        return None
    path, _, rest = frame.removeprefix('File "').partition('", line ')
    return f"{'/'.join(path.rsplit('/', 2)[-2:])}:{rest.replace(' in ', ' ', 1)}"
