"""What a handler receives: the message, its arguments, the database session and who is asking."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.config import Settings
from tocns.core.messages import IncomingMessage

if TYPE_CHECKING:
    # Types only: the core never calls the org feature; `tocns.app` injects the function that resolves people.
    from tocns.core.registry import Command, Registry
    from tocns.features.org.models import ChatBinding, OrgUnit, Person


class UserError(Exception):
    """A problem to explain to the user in Vietnamese; nothing of the command is saved."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class UnitChoice:
    """A unit a person may act on from a private chat, the roles they hold there and how to name it."""

    unit: OrgUnit
    roles: set[str]
    label: str


@dataclass
class Sender:
    """Who sent a message and where: the person, the chat's binding and unit, and the roles held there.

    In a private chat there is no binding; `choices` are the units where the person holds a role (the topmost of
    each branch), which the router offers to commands that act on one unit.
    """

    person: Person
    binding: ChatBinding | None
    unit: OrgUnit | None
    roles: set[str]
    choices: list[UnitChoice] = field(default_factory=list)


Identify = Callable[[AsyncSession, IncomingMessage, datetime], Awaitable[Sender]]
"""Resolves the sender of a message inside the update's session (the org feature provides it)."""


@dataclass
class Context:
    """Everything one command invocation needs; valid for one session (one update)."""

    msg: IncomingMessage
    args: str
    command: Command
    registry: Registry
    session: AsyncSession
    settings: Settings
    person: Person
    binding: ChatBinding | None
    unit: OrgUnit | None
    roles: set[str]
    now: datetime

    @property
    def local_now(self) -> datetime:
        """The current time in the bot's time zone."""
        return self.now.astimezone(self.settings.tz)

    @property
    def today(self) -> date:
        """Today's date in the bot's time zone."""
        return self.local_now.date()
