"""Profile every process of a benched `tocns serve` between two signals (webhook_bench.py --profile-served).

Put on PYTHONPATH with BENCH_PROFILE_DIR set: each Python process started then profiles its main thread (cProfile
timed by process CPU) from SIGUSR1 to SIGUSR2, and writes its stats to BENCH_PROFILE_DIR/<role>-<pid>.pstats, the
role read from its command line (web worker, jobs process, server, drawing pool).
"""

from __future__ import annotations

import os
import signal
import sys
import time

_DIR = os.environ.get("BENCH_PROFILE_DIR")


def _role() -> str:
    argv = " ".join(sys.orig_argv if hasattr(sys, "orig_argv") else sys.argv)
    if "tocns.cli jobs" in argv or argv.endswith(" jobs"):
        return "jobs"
    if "multiprocessing" in argv:
        return "child"
    return "main"


if _DIR:
    import cProfile

    _profiler = cProfile.Profile(time.process_time)

    def _start(*_: object) -> None:
        _profiler.enable()

    def _stop(*_: object) -> None:
        _profiler.disable()
        _profiler.dump_stats(os.path.join(_DIR, f"{_role()}-{os.getpid()}.pstats"))

    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _stop)
