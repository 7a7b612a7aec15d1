"""Time `.ci/run` of a baseline commit and of a candidate commit back to back, each in a fresh copy of its tree.

    python bench/ci_bench.py --base main --candidate HEAD \
        --pg postgresql+asyncpg://postgres@127.0.0.1:5432/bench_ci [--order base,candidate]

Each run is `CI=true bash .ci/run` in a directory made by `git archive` (what a fresh clone holds), with
TEST_DATABASE_URL_PG set. Prints every `== ` stage line with the seconds since the run started, the wall time,
the load average before and after, and the ratio candidate/base. The machine is shared: compare runs made in
close succession only, and read the load averages.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_ci(ref: str, pg_url: str, label: str) -> float:
    """Run `.ci/run` of `ref` in a fresh copy; print its stage lines with elapsed seconds; return the wall time."""
    with tempfile.TemporaryDirectory(prefix=f"ci-bench-{label}-") as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env = {**os.environ, "CI": "true", "TEST_DATABASE_URL_PG": pg_url}
        print(f"--- {label}: {ref} (load before: {load()})", flush=True)
        start = time.monotonic()
        proc = subprocess.Popen(
            ["bash", ".ci/run"], cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        tail: list[str] = []
        in_table = False  # the candidate's own time table, printed at its end
        for line in proc.stdout:
            tail = [*tail[-40:], line]
            in_table = in_table or line.startswith("== time per stage")
            if in_table or line.startswith("== ") or " passed" in line:
                print(f"  {time.monotonic() - start:7.1f} s  {line.rstrip()}", flush=True)
        code = proc.wait()
        wall = time.monotonic() - start
        print(f"--- {label}: exit {code}, wall {wall:.1f} s (load after: {load()})", flush=True)
        if code != 0:
            sys.stdout.writelines(tail)
            raise SystemExit(f"{label}: .ci/run failed")
        return wall


def main() -> None:
    """Run both, in the order asked, and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main")
    parser.add_argument("--candidate", default="HEAD")
    parser.add_argument("--pg", required=True, help="a PostgreSQL URL whose database exists (the suites reset it)")
    parser.add_argument("--order", default="base,candidate")
    args = parser.parse_args()
    walls: dict[str, float] = {}
    for label in args.order.split(","):
        walls[label] = run_ci(getattr(args, label), args.pg, label)
    if len(walls) == 2:
        base, cand = walls["base"], walls["candidate"]
        print(
            f"base {base:.1f} s, candidate {cand:.1f} s: "
            f"candidate/base = {cand / base:.2f} ({1 - cand / base:.0%} faster)"
        )


if __name__ == "__main__":
    main()
