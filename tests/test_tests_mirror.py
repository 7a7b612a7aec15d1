"""The tests mirror tocns/: each package has its folder of tests, each core module with logic its own test module,
and no folder of tests mirrors something that is gone. Whoever changes a module finds its tests where it lives; the
people of the test scenarios are defined once."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tocns"
TESTS = ROOT / "tests"

CORE_WITHOUT_OWN_TESTS: dict[str, str] = {
    "context.py": "data for a command, plus two one-line properties (local_now, today) every command test reads",
    "roles.py": "two enumerations and a one-line rank, which the permission matrix (test_permissions.py) exercises",
    "updates.py": "the neutral types of an update (Checked and protocols); tests/inbound/test_pipeline.py drives them",
    "jobs.py": "the JobContext protocol and the ScheduledJob record; tests/test_scheduler.py runs jobs through them",
}
"""Core modules with a function but no test module of their own, each with the reason."""

TEST_FOLDERS_OF_NO_PACKAGE: dict[str, str] = {
    "fakes": "fake platform servers the tests run against",
    "emulator": "the npm Bot API emulator (package files only)",
}
"""Folders under tests/ that are tools of the tests, not mirrors of a package."""


def has_logic(path: Path) -> bool:
    """Whether a module defines a function or a method (constants, tables and plain types alone are not logic)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) for node in ast.walk(tree))


def packages() -> list[Path]:
    """Every folder under tocns/ that holds modules (not only a package marker), relative to tocns/."""
    modules = (p for p in SOURCE.rglob("*.py") if p.name != "__init__.py" and p.parent != SOURCE)
    return sorted({p.parent.relative_to(SOURCE) for p in modules})


def test_every_package_has_its_folder_of_tests() -> None:
    """tocns/features/guide/ is tested in tests/features/guide/, and so on for every package."""
    missing = [str(pkg) for pkg in packages() if not any((TESTS / pkg).glob("test_*.py"))]
    assert missing == []


def test_every_core_module_with_logic_has_its_test_module() -> None:
    """tocns/core/<name>.py is tested in tests/core/test_<name>.py unless the exemption above says why not."""
    missing = [
        path.name
        for path in sorted((SOURCE / "core").glob("*.py"))
        if path.name != "__init__.py"
        and has_logic(path)
        and path.name not in CORE_WITHOUT_OWN_TESTS
        and not (TESTS / "core" / f"test_{path.name}").exists()
    ]
    assert missing == []
    stale = [name for name in CORE_WITHOUT_OWN_TESTS if not (SOURCE / "core" / name).exists()]
    assert stale == []  # an exemption for a module that is gone is removed with it


def test_no_folder_of_tests_mirrors_a_package_that_is_gone() -> None:
    """A folder of tests left behind by a move or a removal fails here."""
    mirrored = {str(pkg) for pkg in packages()}
    folders = {
        str(p.parent.relative_to(TESTS))
        for p in TESTS.rglob("test_*.py")
        if p.parent != TESTS and "node_modules" not in p.parts
    }
    orphans = sorted(f for f in folders if f not in mirrored and f.split("/")[0] not in TEST_FOLDERS_OF_NO_PACKAGE)
    assert orphans == []


SCENARIO_PEOPLE = {"LEADER", "MEMBER", "OTHER_MEMBER"}
"""The people of tests/factories.py's scenario: one definition, so "the leader" is the same person everywhere."""


def module_names(path: Path) -> set[str]:
    """The names a module assigns at its top level."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    names.add(name.id)
    return names


def test_the_scenario_people_are_defined_once() -> None:
    """Only tests/factories.py defines LEADER and MEMBER; other scenarios name their people otherwise."""
    redefined = [
        f"{path.relative_to(TESTS)}: {sorted(module_names(path) & SCENARIO_PEOPLE)}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name != "factories.py" and "node_modules" not in path.parts and module_names(path) & SCENARIO_PEOPLE
    ]
    assert redefined == []
