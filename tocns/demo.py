"""A demo province with communes, teams and members of realistic sizes, for trying the bot."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.clock import utcnow
from tocns.core.roles import Level, Role
from tocns.features.org import service as org_service
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit, Person

DEMO_PROVINCE_CODE = "DEMO"
DEMO_PLATFORM = "console"
COMMUNES = ("Xã Tân Lập", "Xã Hòa Bình", "Phường Trung Tâm")
TEAM_NAMES = ("Thôn 1", "Thôn 2", "Thôn 3", "Bản Nà Hin", "Ấp Tân Phú", "Tổ dân phố 5")
LABEL = "demo"
"""The actor the audit log names for everything the demo creates."""
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ")
MIDDLE = ("Thị", "Văn", "Hữu", "Minh", "Ngọc", "Thu", "Đức")
GIVEN = ("Lan", "Hùng", "Mai", "Tuấn", "Hoa", "Dũng", "Hương", "Nam", "Thảo", "Sơn", "Yến", "Phúc")


@dataclass
class DemoResult:
    """What the demo created, for printing and for extensions."""

    created: bool
    province: OrgUnit | None = None
    communes: list[OrgUnit] = field(default_factory=list)
    teams: dict[str, list[OrgUnit]] = field(default_factory=dict)
    members: dict[str, list[Person]] = field(default_factory=dict)
    chat_ids: dict[str, str] = field(default_factory=dict)
    join_code: str | None = None
    notes: list[str] = field(default_factory=list)


async def create_demo(session: AsyncSession, seed: int = 7) -> DemoResult:
    """Create the demo province once; a second call changes nothing."""
    if await org_store.get_unit_by_code(session, DEMO_PROVINCE_CODE) is not None:
        return DemoResult(created=False)
    rng = random.Random(seed)
    province = await org_store.create_unit(
        session, code=DEMO_PROVINCE_CODE, name="Tỉnh Thử Nghiệm", level=Level.PROVINCE, actor_label=LABEL
    )
    result = DemoResult(created=True, province=province)
    staff = await org_store.upsert_person(
        session, platform=DEMO_PLATFORM, user_id="demo-so", display_name="Cán bộ Sở Trần Minh"
    )
    await org_service.set_membership(session, person=staff, unit=province, role=Role.STAFF, actor_label=LABEL)
    await _bind(session, result, province, staff, "demo-so", "Nhóm Sở")
    members = iter(range(1, 1_000_000))
    for c_index, commune_name in enumerate(COMMUNES, start=1):
        commune = await _commune(session, result, rng, c_index, commune_name)
        for team_name in TEAM_NAMES:
            await _team(session, result, rng, commune, team_name, members)
    spare = await org_service.create_join_code(
        session,
        unit=result.communes[0],
        role=Role.COMMUNE_LEADER,
        ttl=timedelta(days=7),
        now=utcnow(),
        actor_label=LABEL,
    )
    result.join_code = spare.code
    # Imported here: the activity feature's sample data needs the result's teams and people.
    from tocns.features.activity.demo import demo_activity

    result.notes.extend(await demo_activity(session, result))
    return result


async def _bind(
    session: AsyncSession, result: DemoResult, unit: OrgUnit, person: Person, chat_id: str, title: str
) -> None:
    """Bind the unit's demo group and remember its chat id."""
    await org_store.bind_chat(
        session, platform=DEMO_PLATFORM, chat_id=chat_id, unit=unit, person=person, chat_title=title
    )
    result.chat_ids[unit.code] = chat_id


async def _commune(
    session: AsyncSession, result: DemoResult, rng: random.Random, c_index: int, commune_name: str
) -> OrgUnit:
    """A demo commune with its leader and its coordination group."""
    assert result.province is not None
    commune = await org_store.create_unit(
        session,
        code=f"{DEMO_PROVINCE_CODE}-X{c_index}",
        name=commune_name,
        level=Level.COMMUNE,
        parent=result.province,
        actor_label=LABEL,
    )
    result.communes.append(commune)
    leader = await org_store.upsert_person(
        session,
        platform=DEMO_PLATFORM,
        user_id=f"demo-{c_index}-lanhdao",
        display_name=f"Chủ tịch {rng.choice(FAMILY)} {rng.choice(GIVEN)}",
    )
    await org_service.set_membership(session, person=leader, unit=commune, role=Role.COMMUNE_LEADER, actor_label=LABEL)
    await _bind(session, result, commune, leader, f"demo-xa-{c_index}", f"Điều phối {commune_name}")
    result.teams[commune.code] = []
    return commune


async def _team(
    session: AsyncSession,
    result: DemoResult,
    rng: random.Random,
    commune: OrgUnit,
    team_name: str,
    numbers: Iterator[int],
) -> None:
    """A demo team of three to eight people, the first its leader."""
    team = await org_store.add_team(session, commune.code, team_name, actor_label=LABEL)
    result.teams[commune.code].append(team)
    people: list[Person] = []
    for m_index in range(rng.randint(3, 8)):
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        person = await org_store.upsert_person(
            session, platform=DEMO_PLATFORM, user_id=f"demo-{next(numbers)}", display_name=name
        )
        role = Role.TEAM_LEADER if m_index == 0 else Role.MEMBER
        await org_service.set_membership(session, person=person, unit=team, role=role, actor_label=LABEL)
        people.append(person)
    result.members[team.code] = people


def describe(result: DemoResult) -> str:
    """A human summary of the demo and how to try it."""
    if not result.created:
        return (
            "Tỉnh thử nghiệm (mã DEMO) đã có sẵn; không tạo lại.\n"
            'Thử ngay: tocns console --chat-id demo-xa-1 --user-id demo-1 --name "Thành viên thử"'
        )
    assert result.province is not None
    n_teams = sum(len(t) for t in result.teams.values())
    n_members = sum(len(p) for p in result.members.values())
    first_team = result.teams[result.communes[0].code][0]
    first_member = result.members[first_team.code][0]
    lines = [
        f"Đã tạo {result.province.name} (mã {result.province.code}): {len(result.communes)} xã/phường, "
        f"{n_teams} tổ, {n_members} thành viên.",
    ]
    for commune in result.communes:
        teams = ", ".join(f"{t.name} ({t.code})" for t in result.teams[commune.code])
        lines.append(f"- {commune.name} ({commune.code}), nhóm {result.chat_ids[commune.code]}: {teams}")
    lines.extend(result.notes)
    lines += [
        "",
        "Thử ngay, với vai một tổ trưởng trong nhóm của xã đầu tiên:",
        f"  tocns console --chat-id {result.chat_ids[result.communes[0].code]} --user-id {first_member.user_id} "
        f'--name "{first_member.display_name}"',
        "Hoặc kết nối một nhóm mới trong console mặc định bằng mã dùng một lần:",
        f"  /ketnoi {result.join_code}",
    ]
    return "\n".join(lines)
