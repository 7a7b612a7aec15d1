"""Tables of the directive API: idempotency keys of POST /api/v1/directives."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from tocns.core.clock import utcnow


class DirectiveApiRequest(SQLModel, table=True):
    """A POST that carried an Idempotency-Key: its retry returns the same directive instead of a second one."""

    __tablename__ = "directive_api_request"
    # Keys are per token: two systems may well both send "1".
    __table_args__ = (UniqueConstraint("api_token_id", "idempotency_key", name="uq_directive_api_request_key"),)

    id: int | None = Field(default=None, primary_key=True)
    api_token_id: int = Field(foreign_key="api_token.id")
    idempotency_key: str = Field(max_length=200)
    # SHA-256 of the request body, so the same key with a different body is refused rather than ignored.
    request_hash: str = Field(max_length=64)
    directive_id: int = Field(foreign_key="directive.id")
    # The JSON answered the first time, answered again verbatim to a retry.
    response: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
