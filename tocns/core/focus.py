"""Which unit a command typed in a private chat acts on: the person's only unit, or the one named first.

A group's commands act on the group's unit. In a private chat there is none, so a command that acts on one unit
(`Command.unit_scoped`) acts on one of the units where the person holds a role: the only one, or the one whose
code or name starts the arguments (`/baocao X1 tuần trước`, `/nhiemvu xa tan lap`). Decisions in
docs/private-chats.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from tocns.core.context import UnitChoice
from tocns.core.permissions import highest, role_label
from tocns.core.text import fold

MAX_NAME_WORDS = 8
MAX_LISTED = 12


def _names(choice: UnitChoice) -> set[str]:
    """The folded forms that name a unit: its code, its full name, and its name without the kind word.

    The kind-less form ("tan lap" for "Xã Tân Lập") counts only when it has a letter: "3" for "Thôn 3" would
    swallow a task number (`/xong 3`).
    """
    unit = choice.unit
    folded = fold(unit.name).replace("-", " ").split()
    names = {fold(unit.code), " ".join(folded)}
    bare = " ".join(folded[1:])
    if any(ch.isalpha() for ch in bare):
        names.add(bare)
    return names


def pick_choice(args: str, choices: Sequence[UnitChoice]) -> tuple[UnitChoice | None, str]:
    """The choice named by the first words of `args` (longest name wins) and the arguments left after it."""
    words = args.split()
    if not words or not choices:
        return None, args
    for size in range(min(len(words), MAX_NAME_WORDS), 0, -1):
        head = fold(" ".join(words[:size]))
        found = [c for c in choices if head in _names(c)]
        if len(found) == 1:
            return found[0], " ".join(words[size:])
    return None, args


def choose_text(command: str, choices: Sequence[UnitChoice], args: str) -> str:
    """Ask which unit: one line per unit, each a command to copy, the typed arguments kept."""
    tail = f" {args.strip()}" if args.strip() else ""
    lines = [
        f"Bạn giữ vai trò ở {len(choices)} đơn vị; lệnh /{command} cần biết đơn vị nào. "
        "Gõ lại lệnh kèm mã hoặc tên đơn vị:"
    ]
    for choice in choices[:MAX_LISTED]:
        top = highest(choice.roles)
        role = f", {role_label(top)}" if top is not None else ""
        lines.append(f"- /{command} {choice.unit.code}{tail} — {choice.label}{role}")
    if len(choices) > MAX_LISTED:
        lines.append(f"… và {len(choices) - MAX_LISTED} đơn vị khác.")
    lines.append("Chưa có gì được thực hiện.")
    return "\n".join(lines)
