"""`tocns gapowork menu`: the registry's commands, ready to paste into GapoWork's bot settings."""

from __future__ import annotations

import pytest

from tocns.app import build_registry
from tocns.cli import main


def test_the_menu_lists_the_registry_commands_members_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gapowork", "menu"]) == 0
    out = capsys.readouterr().out
    items = [line.split(" | ") for line in out.splitlines() if " | /" in line]
    registry = build_registry()
    assert all(registry.lookup(command.lstrip("/")) is not None for _title, command, _note in items)
    commands = [command for _title, command, _note in items]
    assert {"/ghi", "/nhiemvu", "/baocao", "/danhan"} <= set(commands)
    assert commands.index("/ghi") < commands.index("/chidao")  # what every member uses comes first
    assert "ĐỂ TRỐNG câu trả lời soạn sẵn" in out
