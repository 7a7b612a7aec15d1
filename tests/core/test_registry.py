"""The command registry: a command answers to its name, aliases and Vietnamese name however they are typed, help
lists only what a role may run, and a name declared twice stops the bot at start rather than shadowing a command."""

from __future__ import annotations

import pytest

from tocns.core.context import Context
from tocns.core.permissions import GUEST, LEADERS, MEMBERS
from tocns.core.registry import CommandGroup, Registry


async def _handler(ctx: Context) -> str:
    return "ok"


def _group() -> CommandGroup:
    group = CommandGroup()
    group.command("ghi", roles=MEMBERS, summary="Ghi", aliases=("log",), vi_name="ghi")(_handler)
    group.command("vaitro", roles=LEADERS, summary="Vai trò", vi_name="vaitrò", order=5)(_handler)
    group.command("danhan", roles=MEMBERS, summary="Đã nhận", vi_name="đãnhận", group_only=True)(_handler)
    return group


def test_a_command_answers_to_every_name_it_has() -> None:
    registry = Registry().include(_group())
    assert registry.lookup("GHI") is registry.lookup("log") is registry.lookup("ghi")
    assert registry.lookup("ĐÃNHẬN") is registry.lookup("danhan")
    assert registry.lookup("xoa") is None
    assert registry.suggest("ghii") == "ghi"
    assert [c.name for c in registry.all()] == ["vaitro", "danhan", "ghi"]  # help order, then name


def test_help_shows_only_what_a_role_may_run() -> None:
    registry = Registry().include(_group())
    assert [c.name for c in registry.available_to({GUEST})] == []
    assert [c.name for c in registry.available_to({"member"})] == ["danhan", "ghi"]
    assert [c.name for c in registry.available_to({"member"}, private=True)] == ["ghi"]
    assert "vaitro" in [c.name for c in registry.available_to({"team_leader"})]


def test_a_name_declared_twice_is_refused() -> None:
    clash = CommandGroup()
    clash.command("nhatky", roles=MEMBERS, summary="x", aliases=("Ghi",))(_handler)
    with pytest.raises(ValueError, match="'ghi' is declared twice"):
        Registry().include(_group(), clash)
