"""The command registry: each command declared once, read by help, menus and the permission check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tocns.core.permissions import allowed
from tocns.core.text import closest, fold

if TYPE_CHECKING:
    from tocns.core.context import Context
    from tocns.core.messages import Reply

Handler = Callable[["Context"], Awaitable["Reply | list[Reply] | str | None"]]


@dataclass(frozen=True)
class Command:
    """A chat command: its names, who may use it, its help text and its handler."""

    name: str
    handler: Handler
    roles: frozenset[str]
    summary: str
    usage: str = ""
    aliases: tuple[str, ...] = ()
    vi_name: str = ""
    order: int = 100
    # Read-only: answered for an anonymous group admin, with the group's unit and an admin's authority there.
    anonymous: bool = False
    # Useful in a private chat with the bot: offered in the private chats' menu.
    private: bool = False
    # Acts on one unit: a group's own unit, or in a private chat one of the units where the person holds a role
    # (the router picks it, asking which when there are several; docs/private-chats.md).
    unit_scoped: bool = False
    # Only meaningful in a group (binds or joins the group's unit): left out of /huongdan in a private chat.
    group_only: bool = False

    @property
    def all_names(self) -> tuple[str, ...]:
        """The command name followed by its aliases."""
        return (self.name, *self.aliases)


class CommandGroup:
    """One feature's commands, declared with @group.command and included in the registry by `tocns.app`."""

    def __init__(self) -> None:
        self.commands: list[Command] = []

    def command(
        self,
        name: str,
        *,
        roles: frozenset[str],
        summary: str,
        usage: str = "",
        aliases: Iterable[str] = (),
        vi_name: str = "",
        order: int = 100,
        anonymous: bool = False,
        private: bool = False,
        unit_scoped: bool = False,
        group_only: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Decorator declaring a handler as a command of this group."""

        def wrap(handler: Handler) -> Handler:
            self.commands.append(
                Command(
                    name=name,
                    handler=handler,
                    roles=roles,
                    summary=summary,
                    usage=usage,
                    aliases=tuple(aliases),
                    vi_name=vi_name or name,
                    order=order,
                    anonymous=anonymous,
                    private=private,
                    unit_scoped=unit_scoped,
                    group_only=group_only,
                )
            )
            return handler

        return wrap


class Registry:
    """All commands by name and alias (matched without diacritics or case)."""

    def __init__(self) -> None:
        self._commands: list[Command] = []
        self._by_name: dict[str, Command] = {}

    def add(self, cmd: Command) -> Command:
        """Register a command; a clash of names is a programming error."""
        names = {fold(n) for n in (*cmd.all_names, cmd.vi_name) if n}
        for name in names:
            if name in self._by_name:
                raise ValueError(f"command name {name!r} is declared twice")
        for name in names:
            self._by_name[name] = cmd
        self._commands.append(cmd)
        self._commands.sort(key=lambda c: (c.order, c.name))
        return cmd

    def include(self, *groups: CommandGroup) -> Registry:
        """Add every command of each group (aiogram's include_routers); returns the registry."""
        for group in groups:
            for cmd in group.commands:
                self.add(cmd)
        return self

    def names(self) -> frozenset[str]:
        """Every command name and alias, folded."""
        return frozenset(self._by_name)

    def lookup(self, name: str) -> Command | None:
        """Find a command by any of its names."""
        return self._by_name.get(fold(name))

    def all(self) -> list[Command]:
        """Every command, in help order."""
        return list(self._commands)

    def available_to(self, roles: set[str] | frozenset[str], private: bool = False) -> list[Command]:
        """The commands a person with these roles may run (in a private chat: those that work there)."""
        return [c for c in self._commands if allowed(c.roles, roles) and not (private and c.group_only)]

    def suggest(self, name: str) -> str | None:
        """The closest command name to a mistyped one."""
        hits = closest(name, list(self._by_name), limit=1, cutoff=0.5)
        return self._by_name[hits[0]].name if hits else None
