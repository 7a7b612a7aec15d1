"""A corpus of field messages (tests/data/field_messages.tsv) read as members type them: no wrong record, ever.

Every message is read as written, without diacritics, in NFD and with invisible characters between words.
Figures are printed (run with -s) and asserted: 0 records with a wrong amount or a wrong day, and at least 98%
of the plain messages recorded right.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

from tocns.features.activity.grammar import Catalogue, LogParseError, default_specs, parse_log

TODAY = date(2026, 11, 25)
CAT = Catalogue(default_specs())
CORPUS = Path(__file__).parents[2] / "data" / "field_messages.tsv"


def _strip_marks(text: str) -> str:
    """What a phone without a Vietnamese keyboard sends: no diacritics, case kept."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _invisible(text: str) -> str:
    """Zero-width spaces and joiners pasted from other apps, a no-break space, a BOM."""
    words = text.split(" ")
    if len(words) > 1:
        words[0] = words[0] + "\u200b"
        words[-1] = "\u2060" + words[-1]
    return "\ufeff" + "\u00a0".join(words[:2]) + (" " if len(words) > 2 else "") + " ".join(words[2:])


VARIANTS = {
    "as typed": lambda t: t,
    "no diacritics": _strip_marks,
    "NFD": lambda t: unicodedata.normalize("NFD", t),
    "invisible characters": _invisible,
}


def _expected(field: str) -> tuple[dict[str, int], date | None] | None:
    if field == "REFUSE":
        return None
    items_text, _, day = field.partition("@")
    items = {code: int(q) for code, q in (pair.split("=") for pair in items_text.split(","))}
    return items, (date.fromisoformat(day) if day else None)


def _corpus() -> list[tuple[str, str]]:
    rows = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            expected, message = line.split("\t", 1)
            rows.append((expected, message))
    return rows


def test_field_corpus_has_no_wrong_record() -> None:
    rows = _corpus()
    plain = plain_right = refused_right = wrong = 0
    misses: list[str] = []
    for expected_field, base in rows:
        expected = _expected(expected_field)
        for variant, make in VARIANTS.items():
            message = make(base)
            try:
                parsed = parse_log(message, CAT, TODAY)
            except LogParseError as exc:
                assert "Chưa có gì được ghi." in exc.message and "Ví dụ:" in exc.message
                if expected is None:
                    refused_right += 1
                else:
                    plain += 1
                    misses.append(f"{variant}: {base!r} refused: {exc.message.splitlines()[0]}")
                continue
            got = ({i.code: i.quantity for i in parsed.items}, parsed.activity_date)
            if expected is None or got != expected:
                wrong += 1
                misses.append(f"WRONG {variant}: {base!r} recorded {got}, expected {expected_field}")
            else:
                plain += 1
                plain_right += 1
            assert parsed.activity_date is None or parsed.activity_date <= TODAY
    total = len(rows) * len(VARIANTS)
    share = plain_right / plain
    print(
        f"\nfield corpus: {total} messages ({len(rows)} written x {len(VARIANTS)} ways of typing); "
        f"plain {plain}, recorded right {plain_right} ({share:.1%}); refused as expected {refused_right}; "
        f"wrong records {wrong}"
    )
    for miss in misses:
        print("  " + miss)
    assert total >= 600
    assert wrong == 0, misses
    assert share >= 0.98, misses
