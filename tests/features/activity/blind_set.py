"""Score `/ghi` on a TSV of field messages: the share understood exactly or refused correctly, and wrong records.

Usage: python -m tests.features.activity.blind_set MESSAGES.tsv [--today YYYY-MM-DD] [--quiet]

TSV: one message a line, `expected<TAB>message`; lines starting with '#' and blank lines are skipped. `expected` is
`code=qty[,code=qty...]` with `@yyyy-mm-dd` appended when the message names a day (a message naming no day is
recorded for today, so `@<today>` is accepted too), or `REFUSE` when nothing should be recorded. The message may
start with `/ghi` or not. The catalogue is the shipped one (tocns/features/activity/data/indicators.json); `--today`
(default 2026-11-25, a Wednesday) is the day the messages are read on. Exit status 1 when any record is wrong.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from tocns.features.activity.grammar import Catalogue, LogParseError, default_specs, parse_log

Expected = tuple[dict[str, int], date | None] | None


def read_expected(text: str) -> Expected:
    """`code=qty,...[@yyyy-mm-dd]` as (items, day), or None for REFUSE."""
    if text.strip().upper() == "REFUSE":
        return None
    items_text, _, day = text.strip().partition("@")
    items = {code.strip(): int(q) for code, q in (pair.split("=") for pair in items_text.split(","))}
    return items, (date.fromisoformat(day) if day else None)


def read_tsv(path: Path) -> list[tuple[str, str]]:
    """(expected, message) rows of a TSV file."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            expected, _, message = line.partition("\t")
            rows.append((expected.strip(), message.strip()))
    return rows


@dataclass
class Score:
    """The outcome of a set of messages."""

    total: int = 0
    recorded_right: int = 0
    refused_right: int = 0
    refused_clear: list[tuple[str, str]] = field(default_factory=list)  # expected a record, refused: (message, reason)
    wrong: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        """Share of messages recorded right or refused when they should be."""
        return (self.recorded_right + self.refused_right) / self.total if self.total else 0.0

    @property
    def share_refusals_ok(self) -> float:
        """The same, counting every refusal of a clear message as acceptable (judge the reasons listed)."""
        return (self.total - len(self.wrong)) / self.total if self.total else 0.0


def score(rows: list[tuple[str, str]], today: date) -> Score:
    """Read every message with the shipped catalogue and compare it with what was expected."""
    catalogue = Catalogue(default_specs())
    result = Score()
    for expected_text, message in rows:
        result.total += 1
        expected = read_expected(expected_text)
        body = message[4:] if message.lower().startswith("/ghi") else message
        try:
            parsed = parse_log(body, catalogue, today)
        except LogParseError as exc:
            if expected is None:
                result.refused_right += 1
            else:
                result.refused_clear.append((message, exc.message.splitlines()[0]))
            continue
        got = {i.code: i.quantity for i in parsed.items}
        day = parsed.activity_date
        if (
            expected is not None
            and got == expected[0]
            and (day == expected[1] or (day is None and expected[1] in (None, today)))
        ):
            result.recorded_right += 1
        else:
            result.wrong.append(f"{message!r} recorded {got} on {day or today}, expected {expected_text}")
    return result


def main(argv: list[str] | None = None) -> int:
    """Print the figures and the messages not recorded right."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tsv", type=Path)
    parser.add_argument("--today", type=date.fromisoformat, default=date(2026, 11, 25))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    result = score(read_tsv(args.tsv), args.today)
    print(
        f"{result.total} messages: recorded right {result.recorded_right}, refused as expected {result.refused_right}, "
        f"clear messages refused {len(result.refused_clear)}, WRONG records {len(result.wrong)}\n"
        f"understood or refused correctly: {result.share:.1%}; "
        f"counting every refusal as acceptable: {result.share_refusals_ok:.1%}"
    )
    if not args.quiet:
        for message, reason in result.refused_clear:
            print(f"  refused {message!r}: {reason}")
        for line in result.wrong:
            print(f"  WRONG {line}")
    return 1 if result.wrong else 0


if __name__ == "__main__":
    sys.exit(main())
