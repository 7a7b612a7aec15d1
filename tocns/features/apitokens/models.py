"""Tables of the reports feature: API tokens of the read-only reports API (stored hashed)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from tocns.core.clock import utcnow


class ApiToken(SQLModel, table=True):
    """A bearer token that reads the reports of one unit and everything below it."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    # SHA-256 of the token: the token itself is shown once, at creation.
    token_hash: str = Field(max_length=64, unique=True, index=True)
    org_unit_id: int = Field(foreign_key="org_unit.id", index=True)
    label: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
