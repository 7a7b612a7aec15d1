"""docs/architecture.md's map names every module under tocns/, and names nothing that is gone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAP_PAGE = ROOT / "docs" / "architecture.md"
# An entry of the map: a file (`name.py`) or a folder (`name/`) as the first word of an indented line.
_ENTRY = re.compile(r"^(?P<indent> *)(?P<name>[A-Za-z0-9_]+(?:\.py|/))(?:\s|$)")


def mapped_modules(page: str) -> set[str]:
    """The module paths (relative to the repository, e.g. `tocns/core/text.py`) the map's tree names."""
    block = page.split("## The map", 1)[1].split("```", 2)[1]
    stack: list[tuple[int, str]] = []  # (indent, folder path) of the folders enclosing the current line
    found: set[str] = set()
    for line in block.splitlines():
        match = _ENTRY.match(line)
        if match is None:
            continue  # a description's continuation line
        indent, name = len(match.group("indent")), match.group("name")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = "".join(folder for _indent, folder in stack) + name
        if name.endswith("/"):
            stack.append((indent, name))
        elif path.startswith("tocns/"):
            found.add(path)
    return found


def source_modules() -> set[str]:
    """Every Python module under tocns/ but package markers."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "tocns").rglob("*.py")
        if path.name != "__init__.py"
    }


def test_the_map_names_every_module_and_nothing_else() -> None:
    mapped = mapped_modules(MAP_PAGE.read_text(encoding="utf-8"))
    actual = source_modules()
    missing = sorted(actual - mapped)
    gone = sorted(mapped - actual)
    assert not missing, f"docs/architecture.md does not name: {missing}"
    assert not gone, f"docs/architecture.md names modules that do not exist: {gone}"


def test_the_map_reader_sees_nesting() -> None:
    page = "## The map\n\n```\ntocns/\n  a.py  x\n        more words\n  core/  y\n    b.py\n  c.py\n```\n"
    assert mapped_modules(page) == {"tocns/a.py", "tocns/core/b.py", "tocns/c.py"}
