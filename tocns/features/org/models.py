"""Tables of the org tree: units, chat bindings, people, memberships and join codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from tocns.core.clock import utcnow
from tocns.core.roles import Level, Role  # noqa: F401  (re-exported for the org feature)


class OrgUnit(SQLModel, table=True):
    """A node of the administrative tree: province, optional district, commune, team (any depth)."""

    __tablename__ = "org_unit"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=40)
    name: str = Field(max_length=200)
    name_folded: str = Field(max_length=200, index=True)
    level: str = Field(max_length=20, index=True)
    parent_id: int | None = Field(default=None, foreign_key="org_unit.id", index=True)
    # Materialized path of ids, "/1/5/77/": subtree queries become one indexed LIKE.
    path: str = Field(default="", max_length=400, index=True)
    depth: int = 0
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class ChatBinding(SQLModel, table=True):
    """A platform chat (group) bound to an org unit."""

    __tablename__ = "chat_binding"
    __table_args__ = (UniqueConstraint("platform", "chat_id", name="uq_chat_binding_platform_chat"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    chat_id: str = Field(max_length=64)
    org_unit_id: int = Field(foreign_key="org_unit.id", index=True)
    chat_title: str | None = Field(default=None, max_length=255)
    active: bool = True
    created_by_person_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow)
    deactivated_at: datetime | None = None
    deactivated_reason: str | None = Field(default=None, max_length=255)


class Person(SQLModel, table=True):
    """A chat user on one platform."""

    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("platform", "user_id", name="uq_person_platform_user"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    user_id: str = Field(max_length=64)
    display_name: str = Field(max_length=200)
    # The name a team sheet gave this person, kept when their chat account claimed the imported entry: leaders
    # type the official name ("@Bế Thị Hoa") as often as the chat one ("Hoa Bế").
    roster_name: str | None = Field(default=None, max_length=200)
    username: str | None = Field(default=None, max_length=100, index=True)
    # Set once the person has opened a private chat with the bot: digests go there.
    private_chat_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)


class Membership(SQLModel, table=True):
    """A person's role on an org unit."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("person_id", "org_unit_id", name="uq_membership_person_unit"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    org_unit_id: int = Field(foreign_key="org_unit.id", index=True)
    role: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow)


class JoinCode(SQLModel, table=True):
    """A one-time, expiring code that binds a chat and grants a role on an org unit (or one imported person's)."""

    __tablename__ = "join_code"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=32)
    org_unit_id: int = Field(foreign_key="org_unit.id")
    role: str = Field(max_length=20)
    # A personal code (printed by the team import): the imported person it is for; redeeming it makes the
    # redeeming account that person, never a second one (issue 27).
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    used_by_person_id: int | None = Field(default=None, foreign_key="person.id")


def unit_label(unit: OrgUnit) -> str:
    """The one way a unit is named in replies, directives and the API: "Xã Tân Lập (X1)"."""
    return f"{unit.name} ({unit.code})"
