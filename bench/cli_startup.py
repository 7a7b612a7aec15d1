"""How much CPU `tocns --help` (and other light subcommand help) costs, against `python -c pass` in the same run.

Usage: python bench/cli_startup.py [--runs 10]
Target (issue 17): `tocns --help` under 0.3 s of CPU.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
from pathlib import Path

TOCNS = str(Path(sys.executable).parent / "tocns")


def cpu_seconds(command: list[str]) -> float:
    """User + system CPU time of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    """Print the median CPU time of each command and its ratio to a bare interpreter."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "tocns --help": [TOCNS, "--help"],
        "tocns report --help": [TOCNS, "report", "--help"],
        "tocns tick --help": [TOCNS, "tick", "--help"],
    }
    medians = {name: statistics.median(cpu_seconds(cmd) for _ in range(args.runs)) for name, cmd in commands.items()}
    base = medians["python -c pass"]
    for name, value in medians.items():
        print(f"{name:24s} {value * 1000:7.1f} ms CPU  ratio {value / base:5.1f}x")


if __name__ == "__main__":
    main()
