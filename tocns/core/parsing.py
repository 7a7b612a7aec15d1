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
    """A command as typed: folded name and raw (NFC) arguments."""

    name: str
    args: str


# How far into an unknown `@Bot ...` mention the command may start (Zalo bot names are a few words).
_MAX_NAME_WORDS = 10
_ZALO_BOT_MENTION = re.compile(r"(?:^|\s)@bot(?:\s|$)", re.IGNORECASE)


def _variants(bot_names: Iterable[str]) -> list[str]:
    """The names a mention may use, longest first: each name, and "Bot <name>" (Zalo bot names start with Bot)."""
    names = {n for n in bot_names if n}
    names |= {f"Bot {n}" for n in names if not fold(n).startswith("bot ")}
    return sorted(names, key=len, reverse=True)


def _command_at(words: list[re.Match[str]], index: int, commands: frozenset[str]) -> bool:
    """Whether the command name (one word, or two: `ket noi`) starts at word `index`."""
    first = fold(words[index].group()).lstrip("/").rstrip(_TRAILING_PUNCT)
    pair = f"{first} {fold(words[index + 1].group())}" if index + 1 < len(words) else ""
    return first in commands or pair.rstrip(_TRAILING_PUNCT) in commands


def _strip_bot_mention(text: str, names: list[str], commands: frozenset[str]) -> tuple[str, bool]:
    """Remove a leading `@BotName` (matched without diacritics or case); report whether one was found."""
    if not text.startswith("@"):
        return text, False
    body = text[1:]
    matched: str | None = None
    for name in names:
        head = body[: len(name)]
        boundary = body[len(name) : len(name) + 1]
        if fold(head) == fold(name) and (not boundary or not boundary.isalnum()):
            matched = body[len(name) :].lstrip(" \t,:")
            break
    words = list(re.finditer(r"\S+", matched if matched is not None else body))
    if matched is not None and (not commands or not words or _command_at(words, 0, commands)):
        return matched, True
    if commands and (matched is not None or fold(body[:4]) == "bot"):
        # `@Bot <a name we were not told> ghi ...` (or a longer name than the one configured, "Bot Tổ CNS Xã An
        # Phú" for "Tổ CNS"): on Zalo only bots are named "Bot ...", and the platform delivered the message
        # because it mentions us. The command is the first word that names one.
        source = matched if matched is not None else body
        for index in range(1 if matched is None else 0, min(len(words), _MAX_NAME_WORDS)):
            if _command_at(words, index, commands):
                return source[words[index].start() :], True
    if matched is not None:
        return matched, True
    # A mention we cannot match by name: a slash command after it is still for us.
    match = re.search(r"(?:^|\s)(/\S.*)$", text, re.DOTALL)
    if match:
        return match.group(1), True
    return text, False


def _strip_trailing_mention(text: str, names: list[str]) -> tuple[str, bool]:
    """Remove a trailing `@BotName` (Zalo users often tag the bot after the command), so that it never becomes
    part of the arguments; any trailing `@Bot ...` counts, a Zalo bot's name always starting with "Bot"."""
    at = text.rfind("@")
    if at <= 0 or not text[at - 1].isspace():
        return text, False
    tail = fold(text[at + 1 :]).rstrip(_TRAILING_PUNCT).strip()
    if any(tail == fold(name) for name in names) or _ZALO_BOT_MENTION.search(text[at - 1 :]):
        return text[:at].rstrip(" \t,:"), True
    return text, False


def parse_command(
    text: str | None, bot_names: Iterable[str] = (), addressed: bool = False, commands: Iterable[str] = ()
) -> ParsedCommand | None:
    """Parse `/cmd`, `/cmd@Bot`, `@Bot /cmd`, `@Bot cmd` and `cmd ... @Bot` forms; None when the text is not a
    command.

    `addressed` says the platform delivered the message to the bot directly (a private chat, or a
    Zalo group mention), so a bare word is read as a command name too. `commands` (folded names) lets a
    leading `@Bot <unknown name> cmd` mention be read: the command is the first word that names one.
    """
    if not text:
        return None
    cleaned = nfc(text).translate(_INVISIBLE).strip()
    names = list(bot_names)
    variants = _variants(names)
    cleaned, mentioned = _strip_bot_mention(cleaned, variants, frozenset(commands))
    cleaned, trailing = _strip_trailing_mention(cleaned, variants)
    mentioned = mentioned or trailing
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
    return ParsedCommand(name=name, args=args)


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
