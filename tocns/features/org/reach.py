"""Who a message for a unit reaches: its groups on each platform, and its people's private chats on a platform
where it has no group (issue 16 item 1, decisions in docs/private-chats.md).

Directives, task reminders, nudges and summaries all ask this one question, so "a unit with no connected group
on a platform is reached through its people's private chats" holds the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.features.org import store as org_store
from tocns.features.org.models import ChatBinding, Membership, OrgUnit, Person


@dataclass(frozen=True)
class Chat:
    """One chat a message for a unit goes to: a bound group, or a person's private chat."""

    platform: str
    chat_id: str
    # The unit the chat belongs to: the group's bound unit, or the unit of the person's role.
    unit_id: int
    person: Person | None = None

    @property
    def private(self) -> bool:
        """Whether this is a person's private chat."""
        return self.person is not None


@dataclass
class Reach:
    """Every active group and every privately reachable membership, to answer for many units at once."""

    groups: list[tuple[ChatBinding, OrgUnit]]
    people: list[tuple[Person, Membership, OrgUnit]]
    # Indexes built on the first question that needs them (a summary asking for a few units needs none): both lists
    # by every ancestor's path (a subtree is one lookup, not a scan), the people by the unit of their role.
    _groups_under: dict[str, list[ChatBinding]] | None = field(default=None, init=False)
    _people_under: dict[str, list[tuple[Person, Membership]]] | None = field(default=None, init=False)
    _people_on: dict[int, list[int]] | None = field(default=None, init=False)

    def _under_groups(self) -> dict[str, list[ChatBinding]]:
        if self._groups_under is None:
            self._groups_under = {}
            for binding, unit in self.groups:
                for prefix in _prefixes(unit.path):
                    self._groups_under.setdefault(prefix, []).append(binding)
        return self._groups_under

    def _under_people(self) -> dict[str, list[tuple[Person, Membership]]]:
        if self._people_under is None:
            self._people_under = {}
            for person, membership, unit in self.people:
                for prefix in _prefixes(unit.path):
                    self._people_under.setdefault(prefix, []).append((person, membership))
        return self._people_under

    def groups_of(self, unit: OrgUnit) -> list[ChatBinding]:
        """The active groups bound to the unit or to a unit below it."""
        return list(self._under_groups().get(unit.path, []))

    def chats_of(self, unit: OrgUnit, groups: Sequence[ChatBinding] | None = None) -> list[Chat]:
        """The unit's groups (or the `groups` given), then, on each platform none of them is on, each person
        holding a role on the unit or below it, once."""
        bound = self.groups_of(unit) if groups is None else list(groups)
        chats = [Chat(b.platform, b.chat_id, b.org_unit_id) for b in bound]
        platforms = {b.platform for b in bound}
        seen: set[int] = set()
        for person, membership in self._under_people().get(unit.path, []):
            if person.platform in platforms or person.id in seen:
                continue
            seen.add(person.id or 0)
            chats.append(Chat(person.platform, person.private_chat_id or "", membership.org_unit_id, person))
        return chats

    def people_of(self, unit_ids: Iterable[int], platforms_with_groups: set[str]) -> list[Chat]:
        """Privately, once each, the people holding a role directly on any of these units, on a platform outside
        `platforms_with_groups`."""
        if self._people_on is None:
            self._people_on = {}
            for position, (_person, membership, _unit) in enumerate(self.people):
                self._people_on.setdefault(membership.org_unit_id, []).append(position)
        # The memberships of these units only, in the order of `people` (as a scan of every one would give them).
        positions = sorted(p for unit_id in set(unit_ids) for p in self._people_on.get(unit_id, []))
        seen: set[int] = set()
        chats = []
        for position in positions:
            person, membership, _unit = self.people[position]
            if person.platform not in platforms_with_groups and person.id not in seen:
                seen.add(person.id or 0)
                chats.append(Chat(person.platform, person.private_chat_id or "", membership.org_unit_id, person))
        return chats


def _prefixes(path: str) -> list[str]:
    """ "/1/5/77/" -> ["/1/", "/1/5/", "/1/5/77/"]."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


async def load_reach(
    session: AsyncSession, roles: Iterable[str] | None = None, under: Iterable[OrgUnit] | None = None
) -> Reach:
    """Read every active group and every privately reachable membership (of `roles`) in two queries; with `under`,
    only those at or below these units (a batch of tasks' communes, not the country)."""
    paths = None if under is None else [unit.path for unit in under]
    return Reach(
        await org_store.active_bindings(session, paths), await org_store.privately_reachable(session, roles, paths)
    )
