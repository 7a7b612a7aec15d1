"""Commands in a Zalo group's form: `/ghi` in a text the bot sends becomes `@Bot ghi`, where a person types it."""

from __future__ import annotations

from tocns.core.addressing import address_commands

NAMES = frozenset({"ghi", "danhan", "huongdan"})


def test_commands_become_mentions_of_the_bot() -> None:
    text = "Gõ /ghi vneid 5 để ghi; trả lời (/danhan 12) hoặc «/huongdan»."
    assert address_commands(text, NAMES, "Tổ CNS") == (
        "Gõ @Tổ CNS ghi vneid 5 để ghi; trả lời (@Tổ CNS danhan 12) hoặc «@Tổ CNS huongdan»."
    )
    assert address_commands("/GHI@ToCNSBot vneid 1", NAMES, "Tổ CNS") == "@Tổ CNS GHI vneid 1"


def test_what_is_not_a_command_stays() -> None:
    for text in ("https://dichvucong.gov.vn/ghi", "a/ghi", "/khonglenh 1", "1/2 số hộ", "/ghi/x"):
        assert address_commands(text, NAMES, "Tổ CNS") == text
    assert address_commands("/ghi vneid 1", NAMES, "") == "/ghi vneid 1"  # no mention known: unchanged
