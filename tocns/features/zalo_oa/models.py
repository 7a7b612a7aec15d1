"""Tables of the Zalo OA feature: the OA's OAuth v4 token pair."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from tocns.core.clock import utcnow


class ZaloOaToken(SQLModel, table=True):
    """The current access and refresh token of one Zalo app's OA; replaced whole on every refresh.

    The refresh token is single-use: the row is the only copy, written before the new access token is used.
    """

    __tablename__ = "zalo_oa_token"

    id: int | None = Field(default=None, primary_key=True)
    app_id: str = Field(max_length=64, unique=True, index=True)
    access_token: str = Field(max_length=2000)
    refresh_token: str = Field(max_length=2000)
    expires_at: datetime
    # Why the refresh token can no longer be used (Zalo refused it); None while it is good.
    dead_reason: str | None = Field(default=None, max_length=500)
    refreshed_at: datetime = Field(default_factory=utcnow)
