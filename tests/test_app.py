"""The wiring point registers what used to register itself on import: the stores' session listeners."""

from __future__ import annotations

import subprocess
import sys

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
