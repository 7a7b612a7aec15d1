"""The org vocabulary every layer shares: the roles a person holds and the kinds of org unit."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Roles a person can hold on an org unit, lowest first."""

    MEMBER = "member"
    TEAM_LEADER = "team_leader"
    COMMUNE_LEADER = "commune_leader"
    STAFF = "staff"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Position in the hierarchy; a higher rank may manage lower ones."""
        return list(Role).index(self) + 1


class Level(StrEnum):
    """Kinds of org unit. The tree does not fix their number or order."""

    NATIONAL = "national"
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"
    TEAM = "team"
