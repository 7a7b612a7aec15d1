"""Tables of the dashboard: one-time sign-in links, each later the server side of a browser session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from tocns.core.clock import utcnow


class DashboardLink(SQLModel, table=True):
    """A one-time sign-in link (stored hashed) bound to a person and their roles; once used, their session."""

    __tablename__ = "dashboard_link"

    id: int | None = Field(default=None, primary_key=True)
    # SHA-256 of the link's token: the token itself is only in the link sent to its owner.
    token_hash: str = Field(max_length=64, unique=True, index=True)
    # None for an operator's link (`tocns dashboard link <unit>`): read-only, no directive can be sent from it.
    person_id: int | None = Field(default=None, foreign_key="person.id")
    # The JSON list of [unit id, role] the session may see, fixed when the link is made.
    scope: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    # Sign-out ends the session on the server too: a copied cookie is dead afterwards.
    signed_out_at: datetime | None = None
