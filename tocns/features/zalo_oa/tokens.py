"""The database token store the Zalo OA channel is given (the channel itself never opens a session)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime

from tocns.channels.zalo_oa import OaTokens, OAuthClient, TokenState
from tocns.config import Settings
from tocns.core.clock import utcnow
from tocns.db.engine import Database
from tocns.db.locks import advisory_lock
from tocns.features.zalo_oa import store
from tocns.log_setup import register_secrets

# Any fixed 64-bit number, different from the scheduler's and the sender's.
REFRESH_LOCK_KEY = 7_202_612_010_016


class DbTokenStore:
    """The OA's token pair in the `zalo_oa_token` table; a refresh holds a PostgreSQL advisory lock."""

    def __init__(self, db: Database, app_id: str, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.app_id = app_id
        self.clock = clock

    async def load(self) -> TokenState | None:
        """The stored pair, or None before `tocns zalo-oa authorize`."""
        async with self.db.session() as session:
            row = await store.get_token(session, self.app_id)
        if row is None:
            return None
        register_secrets([row.access_token, row.refresh_token])
        return TokenState(row.access_token, row.refresh_token, row.expires_at, row.dead_reason)

    async def save(self, state: TokenState, replaced_refresh: str | None) -> bool:
        """Store a new pair in one committed transaction (see store.save_token)."""
        async with self.db.session() as session:
            return await store.save_token(
                session,
                self.app_id,
                state.access_token,
                state.refresh_token,
                state.expires_at,
                self.clock(),
                replaced_refresh,
            )

    async def mark_dead(self, refresh_token: str, reason: str) -> None:
        """Record that Zalo refused this refresh token."""
        async with self.db.session() as session:
            await store.mark_dead(session, self.app_id, refresh_token, reason)

    @asynccontextmanager
    async def _held(self) -> AsyncIterator[None]:
        async with advisory_lock(self.db, REFRESH_LOCK_KEY, wait=True):
            yield

    def lock(self) -> AbstractAsyncContextManager[None]:
        """Held around a refresh, across processes."""
        return self._held()


def oa_tokens(db: Database, settings: Settings, clock: Callable[[], datetime] = utcnow) -> OaTokens:
    """The OA's tokens, stored in this database."""
    return OaTokens(DbTokenStore(db, settings.zalo_oa_app_id, clock), OAuthClient(settings), clock)
