"""Long-running loops that survive their dependencies: what counts as an outage, capped backoff, a supervisor
that restarts a task that ended unexpectedly, and the in-process registry `/healthz` reads (docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exc as sa_exc

from tocns.core.clock import utcnow
from tocns.core.text import one_line

log = logging.getLogger(__name__)


def _asyncpg_errors() -> tuple[type[BaseException], ...]:
    # asyncpg is PostgreSQL's driver: errors it raises outside SQLAlchemy's wrapping (a pooled connection reset
    # while being returned) are outages too. SQLite installs need not have it.
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - every install has it today
        return ()
    return (asyncpg.PostgresError, asyncpg.InterfaceError)


OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.DBAPIError,  # OperationalError, InterfaceError, ... as wrapped by SQLAlchemy
    sa_exc.TimeoutError,  # no pooled connection came free in time
    sa_exc.ResourceClosedError,
    OSError,  # ConnectionError, refused, reset
    TimeoutError,
    *_asyncpg_errors(),
)
"""What a dependency going away looks like to a loop: it waits and tries again, it does not end."""


def is_outage(error: BaseException) -> bool:
    """Whether an error is a dependency being unreachable (database, network), not a bug."""
    return isinstance(error, OUTAGE_ERRORS)


def describe(error: BaseException) -> str:
    """One line naming an error, for a log line that stays one line (a database error without its SQL and
    parameters, which may carry people's messages)."""
    detail = error.orig if isinstance(error, sa_exc.DBAPIError) and error.orig is not None else error
    return one_line(f"{type(error).__name__}: {detail}", 300)


class Backoff:
    """Capped exponential delays with jitter: `start`, doubling per failure in a row, at most `cap` seconds."""

    def __init__(self, start: float, cap: float) -> None:
        self.start = max(0.01, start)
        self.cap = max(self.start, cap)
        self.failures = 0

    def next(self) -> float:
        """The wait after one more failure in a row."""
        self.failures += 1
        delay = min(self.cap, self.start * 2.0 ** (self.failures - 1))
        # Jitter: several workers that lost the database together do not all come back in the same instant.
        return delay * random.uniform(0.75, 1.0)

    def reset(self) -> None:
        """A success: the next failure starts from `start` again."""
        self.failures = 0


@dataclass
class LoopState:
    """What one loop last reported: when it last made progress, whether work was waiting, its last error."""

    name: str
    last_progress: datetime | None = None
    due: bool = False
    error: str | None = None
    failing_since: datetime | None = None
    restarts: int = 0
    running: bool = True


@dataclass
class LoopHealth:
    """The process's loops and their progress, as `/healthz` reports them; times come from the app's clock."""

    clock: Callable[[], datetime] = utcnow
    loops: dict[str, LoopState] = field(default_factory=dict)

    def state(self, name: str) -> LoopState:
        """The state of loop `name`, registered on first use."""
        if name not in self.loops:
            self.loops[name] = LoopState(name, last_progress=self.clock())
        return self.loops[name]

    def progress(self, name: str, due: bool) -> None:
        """A round of loop `name` reached its dependencies; `due`: work is waiting for it (now or at once)."""
        state = self.state(name)
        state.last_progress, state.due, state.running = self.clock(), due, True
        state.error = state.failing_since = None

    def failed(self, name: str, error: BaseException | str, due: bool | None = None) -> None:
        """A round of loop `name` failed; the work it last knew of stays due (or `due`, when it knows better)."""
        state = self.state(name)
        state.error = error if isinstance(error, str) else describe(error)
        state.failing_since = state.failing_since or self.clock()
        if due is not None:
            state.due = due

    def ended(self, name: str, error: str) -> None:
        """Loop `name` is not running (it ended, the supervisor restarts it): whatever it knew of stays due."""
        state = self.state(name)
        state.running = False
        state.restarts += 1
        state.error = error
        state.failing_since = state.failing_since or self.clock()

    def stalled(self, name: str, stall_seconds: float) -> bool:
        """Whether loop `name` has had work due and made no progress for `stall_seconds`."""
        state = self.state(name)
        if not state.due or state.last_progress is None:
            return False
        return (self.clock() - state.last_progress).total_seconds() > stall_seconds

    def report(self, stall_seconds: float) -> dict[str, dict[str, object]]:
        """Each loop's last progress, whether work is due, whether it is stalled, and its last error."""
        now = self.clock()
        return {
            name: {
                "last_progress": state.last_progress.isoformat() if state.last_progress else None,
                "seconds_since_progress": round((now - state.last_progress).total_seconds(), 1)
                if state.last_progress
                else None,
                "due": state.due,
                "stalled": self.stalled(name, stall_seconds),
                "error": state.error,
                "restarts": state.restarts,
            }
            for name, state in sorted(self.loops.items())
        }


async def supervise(
    name: str,
    run: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    health: LoopHealth | None = None,
    backoff: Backoff | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Run `run()` until `stop`; whenever it ends without being stopped (returned or raised), log it in one line
    and start it again after a capped backoff. A run that lasted a minute resets the backoff."""
    backoff = backoff or Backoff(1.0, 60.0)
    while True:  # once at least, even when stopped at once (a loop's first round takes what a previous run left)
        started = monotonic()
        error: Exception | None = None
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = exc
        if stop.is_set():
            return
        if monotonic() - started >= 60.0:
            backoff.reset()
        delay = backoff.next()
        reason = describe(error) if error is not None else "returned without being stopped"
        # Once per ending; a bug (not an outage) gets its traceback.
        log.error(
            "background task %s ended (%s); restarting in %.1f s",
            name,
            reason,
            delay,
            exc_info=error is not None and not is_outage(error),
        )
        if health is not None:
            health.ended(name, reason)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
