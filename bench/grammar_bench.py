"""CPU cost of reading one `/ghi` message (parse_log), against the grammar of an earlier commit in the same run.

Usage: python bench/grammar_bench.py [--base REV] [--rounds 7]
Reads every message of tests/data/field_messages.tsv, as typed and without diacritics, with the grammar of this
tree and with tocns/features/activity/grammar.py as of REV (default main), rounds interleaved so both see the same
machine load. Prints the median CPU time per message of each, their ratio, and how many outcomes differ (the
grammar's splits must not change any reply).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
import unicodedata
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "field_messages.tsv"
TODAY = date(2026, 11, 25)


def grammar_at(rev: str) -> ModuleType:
    """The grammar module as of a git revision, loaded beside the current one."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:tocns/features/activity/grammar.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    spec = importlib.util.spec_from_loader("grammar_base", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["grammar_base"] = module  # dataclasses look their module up while the source runs
    exec(compile(source, f"{rev}:grammar.py", "exec"), module.__dict__)
    return module


def messages() -> list[str]:
    """The field corpus, each message as typed and without diacritics."""
    found = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "\t" in line:
            text = line.split("\t", 1)[1]
            bare = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
            found += [text, "".join(ch for ch in bare if not unicodedata.combining(ch))]
    return found


def outcome(grammar: ModuleType, catalogue: Any, text: str) -> tuple[Any, ...]:
    """What the member would see: the items, day and note, or the refusal."""
    try:
        parsed = grammar.parse_log(text, catalogue, TODAY)
    except grammar.LogParseError as exc:
        return ("refused", exc.message)
    return ("recorded", [(i.code, i.quantity, i.typed_unit) for i in parsed.items], parsed.activity_date, parsed.note)


def cpu_per_message(grammar: ModuleType, catalogue: Any, texts: list[str]) -> float:
    """CPU seconds to read every message once, divided by their number."""
    start = time.process_time()
    for text in texts:
        outcome(grammar, catalogue, text)
    return (time.process_time() - start) / len(texts)


def main() -> None:
    """Print the median CPU time per message of both grammars and their ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="main")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tocns.features.activity import grammar as current

    base = grammar_at(args.base)
    texts = messages()
    pairs = {
        "base": (base, base.Catalogue(base.default_specs())),
        "this tree": (current, current.Catalogue(current.default_specs())),
    }
    differ = sum(outcome(*pairs["base"], t) != outcome(*pairs["this tree"], t) for t in texts)
    times: dict[str, list[float]] = {name: [] for name in pairs}
    for _ in range(args.rounds):
        for name, (grammar, catalogue) in pairs.items():
            times[name].append(cpu_per_message(grammar, catalogue, texts))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{len(texts)} messages, {args.rounds} rounds, base = {args.base}")
    for name, value in medians.items():
        print(f"{name:>10}: {value * 1e6:8.1f} µs CPU per message")
    print(f"ratio this tree / base: {medians['this tree'] / medians['base']:.3f}; outcomes that differ: {differ}")


if __name__ == "__main__":
    main()
