"""The console reads a multi-line message (a month plan) with a trailing backslash or a fenced paste."""

from __future__ import annotations

import io

import pytest

from tests.factories import ChatHarness, FakeClock, setup_commune
from tocns.app import BotApp
from tocns.channels.console import ConsoleChannel, read_message


async def _messages(typed: str) -> list[str]:
    lines = iter(typed.split("\n"))

    async def next_line() -> str | None:
        return next(lines, None)

    out = []
    while (message := await read_message(next_line)) is not None:
        out.append(message)
    return out


@pytest.mark.parametrize(
    ("typed", "messages"),
    [
        ("/ghi vneid 5\n/cuatoi", ["/ghi vneid 5", "/cuatoi"]),
        (
            "/giaoviec thang 12/2026 \\\n15/12 Họp dân\\\n20/12 Tập huấn\n/nhiemvu",
            [
                "/giaoviec thang 12/2026 \n15/12 Họp dân\n20/12 Tập huấn",
                "/nhiemvu",
            ],
        ),
        (
            '"""\n/giaoviec thang 12/2026\n15/12 Họp dân\n"""\n/nhiemvu',
            ["/giaoviec thang 12/2026\n15/12 Họp dân", "/nhiemvu"],
        ),
        ('"""\n/ghi vneid 1', ["/ghi vneid 1"]),  # an unclosed paste ends with the input
        ("/ghi vneid 1 \\", ["/ghi vneid 1 "]),
    ],
)
async def test_messages_from_typed_lines(typed: str, messages: list[str]) -> None:
    assert await _messages(typed) == messages


async def test_a_month_plan_can_be_tried_in_the_console(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)
    out = io.StringIO()
    console = ConsoleChannel(app.pipeline, chat_id="group-1", user_id="10", name="Chủ tịch", out=out)
    await console.run(io.StringIO('"""\n/giaoviec thang 12/2026\n15/12 Họp dân thôn 1\n20/12 Tập huấn VNeID\n"""\n'))
    printed = out.getvalue()
    assert "Họp dân thôn 1" in printed and "Tập huấn VNeID" in printed, printed
