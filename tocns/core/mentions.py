"""Mentions in the bot's own messages: a neutral marker in Reply and outbox text that each channel renders.

A feature writes `person_marker(...)` where it names someone; the text stays plain Unicode in the database. Telegram
turns each marker into a real mention (HTML link to the user id, or @username), the console and Zalo into
`@username` or the display name. The marker uses ASCII control characters nobody types, and holds no space or line
break, so the one splitter never cuts inside it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from tocns.core.messages import Mention

_OPEN, _SEP, _CLOSE = "\x1d", "\x1f", "\x1e"
_NBSP = "\u00a0"
_MARKER = re.compile(f"{_OPEN}([^{_SEP}{_CLOSE}]*){_SEP}([^{_SEP}{_CLOSE}]*){_SEP}([^{_SEP}{_CLOSE}]*){_CLOSE}")
_CONTROL = re.compile(f"[{_OPEN}{_SEP}{_CLOSE}]")


@dataclass(frozen=True)
class PersonRef:
    """A person named in an outgoing message: platform user id, username if any, display name."""

    user_id: str
    username: str | None
    name: str


def _clean(value: str) -> str:
    return _CONTROL.sub("", value)


def person_marker(user_id: str, name: str, username: str | None = None) -> str:
    """The marker naming one person in outgoing text; every channel renders it as a mention."""
    # Spaces become no-break spaces inside the marker so the splitter cuts around it, never through it.
    shown = _clean(name).strip().replace(" ", _NBSP).replace("\n", _NBSP) or _clean(user_id)
    return f"{_OPEN}{_clean(user_id)}{_SEP}{_clean(username or '')}{_SEP}{shown}{_CLOSE}"


def segments(text: str) -> Iterator[str | PersonRef]:
    """The text cut into plain pieces and the people it names, in order (stray control characters dropped)."""
    pos = 0
    for match in _MARKER.finditer(text):
        if match.start() > pos:
            yield _CONTROL.sub("", text[pos : match.start()])
        user_id, username, name = match.groups()
        yield PersonRef(user_id=user_id, username=username or None, name=name.replace(_NBSP, " "))
        pos = match.end()
    if pos < len(text):
        yield _CONTROL.sub("", text[pos:])


def render(text: str, plain: Callable[[str], str], person: Callable[[PersonRef], str]) -> str:
    """Render marked text: `plain` for the text between mentions, `person` for each mention."""
    return "".join(person(s) if isinstance(s, PersonRef) else plain(s) for s in segments(text))


def plain_name(ref: PersonRef) -> str:
    """How a text-only channel (console, Zalo) shows a mention: @username when known, else the display name."""
    return f"@{ref.username}" if ref.username else ref.name


def render_plain(text: str) -> str:
    """Marked text as plain text, for channels without mentions and for logs."""
    return render(text, lambda s: s, plain_name)


def has_mentions(text: str) -> bool:
    """Whether the text names anyone with a marker."""
    return _MARKER.search(text) is not None


def mention_tokens(text: str, mentions: Sequence[Mention]) -> tuple[str, dict[str, Mention]]:
    """Replace each person-mention span the platform marked in `text` by a token `@#N`; returns the text and the
    tokens' mentions.

    A tapped name (Telegram `text_mention`) has no `@` in the text, so a grammar reading `@người` at the end of a
    command would not see it: the token makes it one word the grammar reads like any `@name`. Spans are found from
    the end, the order the platform lists them in; a span not found in this text (another line) is left alone.
    """
    found: dict[str, Mention] = {}
    end = len(text)
    for index in range(len(mentions) - 1, -1, -1):
        mention = mentions[index]
        span = mention.text
        if not span or mention.user_id is None:
            continue
        at = text.rfind(span, 0, end)
        if at < 0:
            continue
        token = f"@#{index + 1}"
        found[token] = mention
        text = f"{text[:at]}{token}{text[at + len(span) :]}"
        end = at
    return text, found


def restore_tokens(text: str, found: dict[str, Mention]) -> str:
    """Undo `mention_tokens` for the tokens still in `text` (a tapped name inside a task's title)."""
    for token, mention in found.items():
        text = re.sub(rf"{re.escape(token)}(?!\d)", mention.text.replace("\\", "\\\\"), text)
    return text
