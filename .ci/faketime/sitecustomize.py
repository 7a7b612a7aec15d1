"""Loaded (through PYTHONPATH) by every Python process of the test suites that .ci/run runs under Debian's faketime.

libfaketime 0.9.10 with FAKETIME_DONT_FAKE_MONOTONIC=1 turns CPython's time.sleep, which waits with
clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME), into "OSError: [Errno 22] Invalid argument"; faking the monotonic
clock instead hangs every lock, queue or event wait with a timeout (sem_clockwait is not faked). So the monotonic
clock stays real and time.sleep waits with select(), whose timeout is relative; .ci/run also sets
FAKETIME_FORCE_MONOTONIC_FIX=0, without which the GIL's own timed wait can hang. See docs/installs.md.
"""

from __future__ import annotations

import os
import select
import time

if os.environ.get("FAKETIME") and "faketime" in os.environ.get("LD_PRELOAD", ""):
    _real_sleep = time.sleep

    def _sleep(seconds: float) -> None:
        """time.sleep through select(): a relative timeout, which libfaketime passes on unchanged."""
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            select.select([], [], [], left)

    time.sleep = _sleep
