"""Pure parsing of a chat message into a command name and its arguments."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from tocns.core.text import fold, nfc

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_COMMAND = re.compile(r"^/?(?P<name>[^\s@/]+)(?:@(?P<bot>[^\s]+))?(?:\s+(?P<args>.*))?$", re.DOTALL)
_TRAILING_PUNCT = ":,.;!?"


@dataclass(frozen=True)
class ParsedCommand:
    """A command as typed: folded name, raw (NFC) arguments and the bot it was addressed to."""

    name: str
    args: str
    addressed_bot: str | None = None


def _strip_bot_mention(text: str, bot_names: Iterable[str]) -> tuple[str, bool]:
    """Remove a leading `@BotName` (matched without diacritics or case); report whether one was found."""
    if not text.startswith("@"):
        return text, False
    body = text[1:]
    for name in sorted({n for n in bot_names if n}, key=len, reverse=True):
        head = body[: len(name)]
        boundary = body[len(name) : len(name) + 1]
        if fold(head) == fold(name) and (not boundary or not boundary.isalnum()):
            return body[len(name) :].lstrip(" \t,:"), True
    # A mention we cannot match by name: a slash command after it is still for us.
    match = re.search(r"(?:^|\s)(/\S.*)$", text, re.DOTALL)
    if match:
        return match.group(1), True
    return text, False


def parse_command(text: str | None, bot_names: Iterable[str] = (), addressed: bool = False) -> ParsedCommand | None:
    """Parse `/cmd`, `/cmd@Bot`, `@Bot /cmd` and `@Bot cmd` forms; None when the text is not a command.

    `addressed` says the platform delivered the message to the bot directly (a private chat, or a
    Zalo group mention), so a bare word is read as a command name too.
    """
    if not text:
        return None
    cleaned = nfc(text).translate(_INVISIBLE).strip()
    names = list(bot_names)
    cleaned, mentioned = _strip_bot_mention(cleaned, names)
    if not cleaned:
        return None
    if not cleaned.startswith("/") and not (mentioned or addressed):
        return None
    match = _COMMAND.match(cleaned)
    if not match:
        return None
    name = fold(match.group("name")).rstrip(_TRAILING_PUNCT)
    if not name:
        return None
    bot = match.group("bot")
    if bot is not None:
        bot = bot.rstrip(_TRAILING_PUNCT)
        if names and fold(bot) not in {fold(n) for n in names}:
            return None
    args = (match.group("args") or "").strip()
    return ParsedCommand(name=name, args=args, addressed_bot=bot)


# Ids are 32-bit integers in the database: a larger number cannot name anything and must not reach a query.
MAX_ID = 2**31 - 1
_ID = re.compile(r"#?\s*([0-9]{1,30})")


def parse_id(word: str) -> int | None:
    """A record, task or directive number as typed (`12`, `#12`), ASCII digits only; None when it is not one.

    `str.isdigit` accepts `²` and `int()` then fails; this refuses it. The value may exceed MAX_ID: callers
    answer "no such record" for it rather than asking the database.
    """
    match = _ID.fullmatch(word.strip())
    return int(match.group(1)) if match else None
