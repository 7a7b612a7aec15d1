"""The pure command parser: every form users and platforms produce."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocns.core.parsing import parse_command
from tocns.core.text import fold, split_chunks, utf16_len

BOTS = ("ToCNSBot", "Tổ CNS")


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ("/ghi vneid 5", "ghi", "vneid 5"),
        ("/GHI vneid 5", "ghi", "vneid 5"),
        ("/Ghi@ToCNSBot vneid 5", "ghi", "vneid 5"),
        ("/ghi@tocnsbot vneid 5", "ghi", "vneid 5"),
        ("  /huongdan  ", "huongdan", ""),
        ("/huongdan", "huongdan", ""),
        ("/thamgia   Thôn 3", "thamgia", "Thôn 3"),
        ("@ToCNSBot /ghi vneid 5", "ghi", "vneid 5"),
        ("@ToCNSBot ghi vneid 5", "ghi", "vneid 5"),
        ("@Tổ CNS /ghi dvc 2", "ghi", "dvc 2"),
        ("@To CNS ghi dvc 2", "ghi", "dvc 2"),
        ("@tổ cns, thamgia thôn 1", "thamgia", "thôn 1"),
        ("/sửa 12 vneid 3", "sua", "12 vneid 3"),
        ("/THAMGIA THÔN 3", "thamgia", "THÔN 3"),
        ("/giaoviec thang 12/2026\nviệc 1\nviệc 2", "giaoviec", "thang 12/2026\nviệc 1\nviệc 2"),
        ("\u200b/huongdan", "huongdan", ""),
        ("/huongdan: ", "huongdan", ""),
        ("@Someone /ghi vneid 1", "ghi", "vneid 1"),
    ],
)
def test_command_forms(text: str, name: str, args: str) -> None:
    parsed = parse_command(text, BOTS)
    assert parsed is not None
    assert (parsed.name, parsed.args) == (name, args)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "xin chào cả nhóm",
        "/huongdan@OtherBot",
        "/ghi@SomeOtherBot vneid 5",
        "ghi vneid 5",
        "@OtherPerson chào chị",
        "/",
        "   ",
    ],
)
def test_not_a_command(text: str) -> None:
    assert parse_command(text, BOTS) is None


def test_bare_word_is_a_command_when_addressed() -> None:
    parsed = parse_command("ghi vneid 5", BOTS, addressed=True)
    assert parsed is not None and parsed.name == "ghi" and parsed.args == "vneid 5"


def test_nfd_input_parses_like_nfc() -> None:
    text = "/sửa 3 định danh 4"
    nfd = unicodedata.normalize("NFD", text)
    assert nfd != text
    assert parse_command(nfd, BOTS) == parse_command(text, BOTS)
    assert parse_command(nfd, BOTS).args == "3 định danh 4"  # type: ignore[union-attr]


@given(st.text(max_size=300), st.booleans())
def test_parser_never_raises(text: str, addressed: bool) -> None:
    parsed = parse_command(text, BOTS, addressed=addressed)
    if parsed is not None:
        assert parsed.name
        assert parsed.name == fold(parsed.name)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_nfc_and_nfd_agree(text: str) -> None:
    message = "/ghi " + text
    assert parse_command(unicodedata.normalize("NFD", message), BOTS) == parse_command(
        unicodedata.normalize("NFC", message), BOTS
    )


def test_fold_strips_vietnamese_diacritics() -> None:
    assert fold("Định Danh Điện Tử") == "dinh danh dien tu"
    assert fold("  Thôn   3 ") == "thon 3"
    assert fold(unicodedata.normalize("NFD", "Bản Nà Hin")) == "ban na hin"


@given(st.text(max_size=3000), st.integers(min_value=1, max_value=500))
def test_split_chunks_respects_limit_and_keeps_words(text: str, limit: int) -> None:
    pieces = split_chunks(text, limit)
    assert all(len(p) <= limit for p in pieces)
    assert "".join(text.split()) == "".join("".join(pieces).split())


@given(st.text(max_size=3000), st.integers(min_value=2, max_value=500))
def test_split_chunks_in_utf16_units_respects_the_limit_and_keeps_words(text: str, limit: int) -> None:
    pieces = split_chunks(text, limit, length=utf16_len)
    assert all(utf16_len(p) <= limit for p in pieces)
    assert "".join(text.split()) == "".join("".join(pieces).split())


def test_emoji_count_twice_towards_zalo_s_limit() -> None:
    text = "📎" * 1500  # 1,500 characters, 3,000 UTF-16 units: too long for one Zalo message
    assert split_chunks(text, 2000) == [text]
    assert [utf16_len(p) for p in split_chunks(text, 2000, length=utf16_len)] == [2000, 1000]


# ---------------------------------------------------------------- Zalo addressing forms

ZALO_BOTS = ("ToCNSBot", "Tổ CNS", "Bot Tổ CNS Xã An Phú")
COMMANDS = frozenset({"ghi", "huongdan", "thamgia", "ketnoi", "xong"})


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        # The mention picker puts the bot's Zalo name (it starts with "Bot") before or after the command.
        ("@Bot Tổ CNS Xã An Phú ghi vneid 5", "ghi", "vneid 5"),
        ("@Bot Tổ CNS Xã An Phú /ghi vneid 5", "ghi", "vneid 5"),
        ("@bot to cns xa an phu ghi vneid 5", "ghi", "vneid 5"),
        ("ghi vneid 5 @Bot Tổ CNS Xã An Phú", "ghi", "vneid 5"),
        ("/ghi vneid 5 @Bot Tổ CNS Xã An Phú", "ghi", "vneid 5"),
        ("ghi vneid 5, @Bot Tổ CNS Xã An Phú.", "ghi", "vneid 5"),
        ("@Bot Tổ CNS Xã An Phú ghi vneid 5 @Bot Tổ CNS Xã An Phú", "ghi", "vneid 5"),
        # "Bot" + a configured name: BOT_DISPLAY_NAME=Tổ CNS, the Zalo name "Bot Tổ CNS".
        ("@Bot Tổ CNS thamgia Thôn 3", "thamgia", "Thôn 3"),
        ("thamgia Thôn 3 @Bot Tổ CNS", "thamgia", "Thôn 3"),
        ("ghi vneid 5 @ToCNSBot", "ghi", "vneid 5"),
        # A Zalo name nobody configured (the bot was renamed): still read, never glued into the arguments.
        ("@Bot Tổ Công Nghệ Số Bản Nà Hin ghi vneid 5", "ghi", "vneid 5"),
        ("ghi vneid 5 @Bot Tổ Công Nghệ Số Bản Nà Hin", "ghi", "vneid 5"),
        ("xong 12 @Bot Khác Tên", "xong", "12"),
        # Mentions of people stay in the arguments.
        ("ghi vneid 5 @Lan", "ghi", "vneid 5 @Lan"),
        ("ghi vneid 5 email lan@bot.vn", "ghi", "vneid 5 email lan@bot.vn"),
    ],
)
def test_zalo_addressing_forms(text: str, name: str, args: str) -> None:
    parsed = parse_command(text, ZALO_BOTS, addressed=True, commands=COMMANDS)
    assert parsed is not None
    assert (parsed.name, parsed.args) == (name, args)


def test_a_lone_mention_is_not_a_command() -> None:
    assert parse_command("@Bot Tổ CNS Xã An Phú", ZALO_BOTS, addressed=True, commands=COMMANDS) is None


_word = st.text(alphabet="abcdeghiklmnoptuvxyàáạảãâầấậẩẫăằắặẳẵđèéẹẻẽêềếệểễ0123456789", min_size=1, max_size=8)


@given(
    st.sampled_from(sorted(COMMANDS)),
    st.lists(_word, max_size=6),
    st.lists(_word, min_size=1, max_size=5),
    st.booleans(),
)
def test_a_bot_mention_before_or_after_never_reaches_the_arguments(
    command: str, words: list[str], name_words: list[str], before: bool
) -> None:
    name = "Bot " + " ".join(name_words)
    args = " ".join(words)
    body = f"{command} {args}".strip()
    text = f"@{name} {body}" if before else f"{body} @{name}"
    for bots in ((*ZALO_BOTS, name), ZALO_BOTS):  # configured, or not
        parsed = parse_command(text, bots, addressed=True, commands=COMMANDS)
        if before and bots == ZALO_BOTS and set(name_words) & COMMANDS:
            continue  # an unknown name holding a command word is ambiguous: configure ZALO_BOT_NAME
        assert parsed is not None and (parsed.name, parsed.args) == (command, args)
