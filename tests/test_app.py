"""The wiring point registers what used to register itself on import: the stores' session listeners; a serving
process settles what it would otherwise redo per request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHECK = """
from sqlalchemy import event
from sqlalchemy.orm import Session

from tocns.features.activity import store as activity_store
from tocns.features.org import store as org_store

def installed():
    return [
        event.contains(Session, "after_flush", activity_store._note_catalogue_change),
        event.contains(Session, "after_commit", activity_store._forget_after_commit),
        event.contains(Session, "after_soft_rollback", org_store._forget_after_rollback),
    ]

print(installed())
from tocns.app import register_session_listeners
register_session_listeners()
register_session_listeners()  # a second call changes nothing
print(installed())
"""


def test_importing_a_store_registers_nothing_and_the_app_registers_each_listener_once() -> None:
    # A fresh interpreter: in the test process the fixtures have registered them already.
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.split("\n")[:2] == ["[False, False, False]", "[True, True, True]"]


def test_an_http_request_no_longer_searches_the_path_for_sniffio(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import importlib.machinery
    import importlib.util

    from httpcore._synchronization import current_async_library

    from tocns.app import note_absent_sniffio

    monkeypatch.delitem(sys.modules, "sniffio", raising=False)
    searched: list[str] = []
    find_spec = importlib.machinery.PathFinder.find_spec

    def counting(name: str, *args: object, **kwargs: object) -> object:
        searched.append(name)
        return find_spec(name, *args, **kwargs)  # type: ignore[arg-type]

    if importlib.util.find_spec("sniffio") is None:
        note_absent_sniffio()
        monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", counting)
        # httpcore asks on every request: answered at once, the same answer as before.
        assert current_async_library() == "asyncio"
        assert "sniffio" not in searched
    # Installed (here: a module of that name on the path), it is imported as usual.
    monkeypatch.delitem(sys.modules, "sniffio", raising=False)
    (tmp_path / "sniffio.py").write_text("def current_async_library():\n    return 'asyncio'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    note_absent_sniffio()
    assert "sniffio" not in sys.modules
    assert current_async_library() == "asyncio"
    assert sys.modules["sniffio"].__file__ == str(tmp_path / "sniffio.py")
