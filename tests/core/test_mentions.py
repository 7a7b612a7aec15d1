"""The neutral mention marker: rendered per channel, never cut by the splitter, tapped names read as words."""

from __future__ import annotations

import io

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tocns.channels.console import ConsoleTransport
from tocns.core.mentions import mention_tokens, person_marker, render_plain, restore_tokens, segments
from tocns.core.messages import Mention
from tocns.core.text import split_chunks

MAI = Mention(user_id="42", display_name="Lò Thị Mai", text="Lò Thị Mai")
LAN = Mention(user_id="7", username="lan", display_name="Lan", text="Lan")


@pytest.mark.parametrize(
    ("text", "mentions", "tokens", "expected"),
    [
        ("Kiểm tra sổ hộ Lò Thị Mai", [MAI], {"@#1": MAI}, "Kiểm tra sổ hộ @#1"),
        ("Việc Lan Lò Thị Mai", [LAN, MAI], {"@#1": LAN, "@#2": MAI}, "Việc @#1 @#2"),
        # A bare @username (no user id) stays as typed: the grammar reads it already.
        ("Việc @lan", [Mention(username="lan", text="@lan")], {}, "Việc @lan"),
        # A span the text does not hold (another line of a plan) is left alone.
        ("Việc khác", [MAI], {}, "Việc khác"),
    ],
)
def test_mention_tokens(text: str, mentions: list[Mention], tokens: dict[str, Mention], expected: str) -> None:
    assert mention_tokens(text, mentions) == (expected, tokens)


def test_a_tapped_name_inside_a_title_is_given_back() -> None:
    text, found = mention_tokens("Gặp Lò Thị Mai", [MAI])
    assert restore_tokens(text, found) == "Gặp Lò Thị Mai"


@pytest.mark.parametrize(
    ("marker", "plain"),
    [
        (person_marker("42", "Lò Thị Mai"), "Lò Thị Mai"),
        (person_marker("7", "Lan", "lan"), "@lan"),
        (person_marker("9", "A\x1db\x1ec"), "Abc"),  # control characters in a name cannot forge a marker
    ],
)
def test_plain_rendering(marker: str, plain: str) -> None:
    assert render_plain(f"Chưa xong: {marker}.") == f"Chưa xong: {plain}."


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)


@example(name="00000000000000", words=["việc", "\n"], limit=20)  # a blank right before the marker
@given(names, st.lists(st.sampled_from(["việc", "\n", "hạn 05/12", " "]), max_size=40), st.integers(20, 80))
def test_the_splitter_never_cuts_a_marker(name: str, words: list[str], limit: int) -> None:
    marker = person_marker("42", name)
    text = " ".join([*words, marker, *words])
    if len(marker) > limit:
        return
    pieces = split_chunks(text, limit)
    assert sum(sum(1 for s in segments(p) if not isinstance(s, str)) for p in pieces) == 1


async def test_the_console_prints_a_mention_as_a_name() -> None:
    out = io.StringIO()
    await ConsoleTransport(out).send("group-1", f"Nhắc {person_marker('42', 'Lò Thị Mai')}", [])
    assert out.getvalue() == "[bot gửi tới group-1] Nhắc Lò Thị Mai\n"
