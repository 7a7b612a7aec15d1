"""Check that an environment holds exactly the versions pinned in constraints.txt (run by .ci/run).

Usage: python .ci/check_pins.py [--path SITE_PACKAGES] [--without NAME ...]
Every installed distribution must be pinned (except the project itself and pip/setuptools/wheel), at the pinned
version for this interpreter (the file is universal: a line's marker says where it applies); names given with
--without must not be installed (a trial install leaves out the optional extras).
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

CONSTRAINTS = Path(__file__).resolve().parent.parent / "constraints.txt"
UNPINNED = {"tocns", "pip", "setuptools", "wheel"}
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;]+)\s*(?:;\s*(.+))?$")


def pinned_versions(path: Path) -> dict[str, str]:
    """The pinned version of each package whose marker holds for this interpreter."""
    pins: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        if match is None:
            raise SystemExit(f"constraints.txt: cannot read {raw!r}")
        name, version, marker = match.groups()
        if marker is None or Marker(marker).evaluate():
            pins[canonicalize_name(name)] = version
    return pins


def main() -> int:
    """Compare installed distributions with the pins; print every difference; exit 1 if there is one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", help="another environment's site-packages (default: this interpreter's)")
    parser.add_argument("--without", action="append", default=[], help="a package that must not be installed")
    args = parser.parse_args()
    pins = pinned_versions(CONSTRAINTS)
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in metadata.distributions(path=[args.path] if args.path else sys.path)
    }
    problems = []
    for name, version in sorted(installed.items()):
        if name in UNPINNED:
            continue
        if name not in pins:
            problems.append(f"{name}=={version} is installed but not in constraints.txt (run .ci/lock)")
        elif pins[name] != version:
            problems.append(f"{name}=={version} is installed but constraints.txt pins {pins[name]}")
    for name in map(canonicalize_name, args.without):
        if name in installed:
            problems.append(f"{name} is installed but this install must go without it")
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{len(installed)} installed distributions match constraints.txt")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
