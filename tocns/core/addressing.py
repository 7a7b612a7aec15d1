"""Commands in the form a chat can deliver to the bot: `/ghi` in most chats, `@Bot Tổ CNS ghi` in a Zalo group.

Features write every command as `/ghi` in their texts. A Zalo Bot Platform group only delivers messages that
mention the bot, so a bare `/ghi` typed there never reaches it: the outbox sender rewrites the text for that chat
here, once, just before it goes out (see docs/decisions.md, "Commands in the platform's form").
"""

from __future__ import annotations

import re
from collections.abc import Collection

from tocns.core.text import fold

# `/name` or `/name@SomeBot`, only where a person would start typing a command: at the start of the text or after
# a blank or an opening bracket or quote. `https://x/ghi` and `a/ghi` are not commands and stay as they are.
_SLASH_COMMAND = re.compile(r"(?<![^\s(\[{\"'«“‘`])/(?P<name>[A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{3,64})?(?![\w/@])")


def address_commands(text: str, command_names: Collection[str], mention: str) -> str:
    """Rewrite each `/cmd` naming a real command (by name or alias) into `@<mention> cmd`; leave the rest."""
    if not mention or "/" not in text:
        return text

    def rewrite(match: re.Match[str]) -> str:
        name = match.group("name")
        return f"@{mention} {name}" if fold(name) in command_names else match.group(0)

    return _SLASH_COMMAND.sub(rewrite, text)
