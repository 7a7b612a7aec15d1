"""/ketnoi, /thamgia and /vaitro: binding chats to units, joining teams and setting roles."""

from __future__ import annotations

from tocns.core.context import Context, UserError
from tocns.core.permissions import EVERYONE, LEADERS, parse_role, role_label
from tocns.core.registry import CommandGroup
from tocns.core.roles import Level, Role
from tocns.core.text import fold, person_name, quoted
from tocns.features.org import service as org_service
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit, Person, unit_label
from tocns.features.org.names import pick_team

COMMANDS = CommandGroup()
"""This feature's chat commands; `tocns.app` includes them in the registry."""


@COMMANDS.command(
    "ketnoi",
    aliases=("connect",),
    vi_name="kết nối",
    roles=EVERYONE,
    summary="Kết nối nhóm với đơn vị bằng mã do Sở hoặc xã cấp",
    usage="/ketnoi <mã>\nVí dụ: /ketnoi K7M2QX9P",
    order=10,
)
async def ketnoi(ctx: Context) -> str:
    """Bind this chat to the join code's unit and give the sender the code's role; a personal code (printed by
    the import) makes the sender that imported person and never binds a chat."""
    code = ctx.args.split()[0] if ctx.args else ""
    if not code:
        raise UserError("Thiếu mã kết nối. Cách dùng: /ketnoi <mã>, ví dụ: /ketnoi K7M2QX9P")
    if not ctx.msg.is_private and ctx.binding is not None:
        return await _redeem_in_bound_group(ctx, code)
    redeemed = await org_service.redeem_join_code(ctx.session, code, ctx.person, ctx.now)
    claimed = await _claimed(ctx, redeemed)
    granted = f"{person_name(ctx.person.display_name)} là {role_label(redeemed.role)} của {unit_label(redeemed.unit)}."
    if ctx.msg.is_private:
        return (
            f"Đã ghi nhận: {granted}{claimed}\n"
            "Bạn dùng được các lệnh ngay trong tin nhắn riêng này (ghi kết quả /ghi, xem việc /nhiemvu, báo xong "
            "/xong, xác nhận chỉ đạo /danhan, xem báo cáo /baocao). Khi đơn vị của bạn chưa có nhóm kết nối, chỉ "
            "đạo, nhắc việc và bản tổng hợp được gửi tới đây. Gõ /huongdan để xem các lệnh."
        )
    if redeemed.code.person_id is not None:
        # A person's own code grants their role; a group is connected only with a unit's code.
        return (
            f"Đã ghi nhận: {granted}{claimed}\nNhóm này chưa kết nối với đơn vị nào: người được cấp mã kết nối "
            "của xã/tổ hãy gõ /ketnoi <mã> tại đây. Gõ /huongdan để xem các lệnh."
        )
    unit = redeemed.unit
    await org_store.bind_chat(
        ctx.session,
        platform=ctx.msg.platform,
        chat_id=ctx.msg.chat_id,
        unit=unit,
        person=ctx.person,
        chat_title=ctx.msg.chat_title,
    )
    next_step = (
        "Các thành viên gõ /thamgia <tên tổ> để vào tổ của mình."
        if unit.level != Level.TEAM
        else "Các thành viên gõ /thamgia để vào tổ."
    )
    return (
        f"Đã kết nối nhóm này với {unit_label(unit)}.\n"
        f"{person_name(ctx.person.display_name)} được giao vai trò {role_label(redeemed.role)}.{claimed}\n"
        f"{next_step} Gõ /huongdan để xem các lệnh."
    )


async def _redeem_in_bound_group(ctx: Context, code: str) -> str:
    """A code of this group's unit or of a unit under it (a team leader's, a person's own): the sender gets its
    role here and the group stays bound as it is; a code of another unit is refused and stays unused."""
    assert ctx.unit is not None
    _peek, code_unit = await org_store.check_join_code(ctx.session, code, ctx.now)
    if not code_unit.path.startswith(ctx.unit.path):
        raise UserError(
            f"Nhóm này đã được kết nối với {unit_label(ctx.unit)}, còn mã của bạn là của {unit_label(code_unit)}. "
            "Mã của bạn chưa bị dùng: hãy gõ /ketnoi <mã> trong tin nhắn riêng với bot, hoặc trong nhóm của "
            f"{code_unit.name}. Nếu cần đổi đơn vị của nhóm này, hãy liên hệ cán bộ quản trị."
        )
    redeemed = await org_service.redeem_join_code(ctx.session, code, ctx.person, ctx.now)
    claimed = await _claimed(ctx, redeemed)
    return (
        f"Đã ghi nhận: {person_name(ctx.person.display_name)} là {role_label(redeemed.role)} của "
        f"{unit_label(redeemed.unit)}. Nhóm vẫn kết nối với {unit_label(ctx.unit)}.{claimed} "
        "Gõ /huongdan để xem các lệnh."
    )


async def _claimed(ctx: Context, redeemed: org_service.Redeemed) -> str:
    """Say which imported person the account now is: the one a personal code names, or the team's only imported
    leader for a team leader's code."""
    if redeemed.imported is not None:
        if redeemed.imported.id == ctx.person.id:
            return ""
        return f" Bạn là {person_name(redeemed.imported.display_name)} trong danh sách đã nhập: không có hai người."
    return await _claim_imported_leader(ctx, redeemed.unit, redeemed.role)


@COMMANDS.command(
    "thamgia",
    group_only=True,
    aliases=("join",),
    vi_name="tham gia",
    roles=EVERYONE,
    summary="Tham gia một tổ thuộc đơn vị của nhóm",
    usage="/thamgia <tên hoặc mã tổ>\nVí dụ: /thamgia thon 3",
    order=11,
)
async def thamgia(ctx: Context) -> str:
    """Join a team under the chat's unit, matched without diacritics; ambiguous names get a list."""
    if ctx.unit is None:
        raise UserError(
            "Lệnh /thamgia dùng trong nhóm điều phối đã kết nối với xã/phường. "
            "Nhóm này chưa kết nối: người được cấp mã hãy gõ /ketnoi <mã>."
        )
    teams = await org_store.descendants(
        ctx.session, ctx.unit, level=Level.TEAM, include_self=ctx.unit.level == Level.TEAM
    )
    if not teams:
        raise UserError(f"{ctx.unit.name} chưa có tổ nào. Cán bộ quản trị tạo tổ bằng: tocns org add-team.")
    if not ctx.args:
        if len(teams) == 1:
            chosen = teams[0]
        else:
            names = "\n".join(f"- {unit_label(t)}" for t in teams[:30])
            raise UserError(f"Hãy ghi tên tổ. Ví dụ: /thamgia {fold(teams[0].name)}\nCác tổ:\n{names}")
    else:
        picked, options = pick_team(ctx.args, teams)
        if picked is not None:
            chosen = picked
        elif not options:
            names = "\n".join(f"- {unit_label(t)}" for t in teams[:30])
            raise UserError(
                f"Không tìm thấy tổ {quoted(ctx.args, 60)} trong {ctx.unit.name}; chưa tham gia tổ nào. "
                f"Các tổ hiện có:\n{names}\nGõ đúng tên hoặc mã tổ, ví dụ: /thamgia {teams[0].code}"
            )
        else:
            listing = "\n".join(f"- /thamgia {t.code}  ({t.name})" for t in options[:8])
            if len(options) == 1:
                raise UserError(
                    f"Chưa chắc {quoted(ctx.args, 60)} là tổ nào. Có một tổ gần giống:\n{listing}\n"
                    "Nếu đúng là tổ của bạn, hãy gõ lệnh trên; chưa tham gia tổ nào."
                )
            raise UserError(
                f"Có {len(options)} tổ gần giống {quoted(ctx.args, 60)}. Bạn chọn tổ nào?\n{listing}\n"
                "Chưa tham gia tổ nào."
            )
    return await _join(ctx, chosen)


async def _join(ctx: Context, team: OrgUnit) -> str:
    current = await org_store.memberships_of(ctx.session, ctx.person.id or 0)
    for membership, unit in current:
        if unit.id == team.id:
            return f"Bạn đã là {role_label(membership.role)} của {team.name}."
    moved_from = ""
    for membership, unit in current:
        if unit.level == Level.TEAM and ctx.unit is not None and unit.path.startswith(ctx.unit.path):
            await org_store.remove_membership(ctx.session, membership, actor=ctx.person)
            moved_from = f" (đã rời {unit.name})"
    await org_service.set_membership(ctx.session, person=ctx.person, unit=team, role=Role.MEMBER, actor=ctx.person)
    reply = (
        f"{person_name(ctx.person.display_name)} đã tham gia {unit_label(team)}{moved_from}.\n"
        "Ghi kết quả hằng ngày bằng /ghi, xem việc được giao bằng /nhiemvu, gõ /huongdan để xem thêm."
    )
    return reply + await _roster_offer(ctx, team)


async def _claim_imported_leader(ctx: Context, unit: OrgUnit, role: Role) -> str:
    """The team leader's code the import printed: the one imported entry holding that role becomes this account."""
    if role != Role.TEAM_LEADER or unit.level != Level.TEAM:
        return ""
    leaders = [
        p
        for p in await org_store.unclaimed_roster(ctx.session, unit)
        if any(
            m.role == Role.TEAM_LEADER and u.id == unit.id
            for m, u in await org_store.memberships_of(ctx.session, p.id or 0)
        )
    ]
    if len(leaders) != 1 or leaders[0].id == ctx.person.id:
        return ""
    await org_store.merge_people(
        ctx.session, keep=ctx.person, gone=leaders[0], actor_label=f"{ctx.msg.platform}:{ctx.msg.user_id}"
    )
    return f" Bạn là {person_name(leaders[0].display_name)} trong danh sách đã nhập: không có hai người."


async def _roster_offer(ctx: Context, team: OrgUnit) -> str:
    """The team's imported names nobody has claimed yet, for the newcomer to say which one they are."""
    roster = await org_store.unclaimed_roster(ctx.session, team)
    if not roster:
        return ""
    names = "\n".join(f"{n}. {person_name(p.display_name)}" for n, p in enumerate(roster[:20], start=1))
    return (
        f"\nBạn có tên trong danh sách tổ đã nhập không? Nếu có, gõ /toila <số>:\n{names}\n"
        "(Nếu không có tên bạn, không cần làm gì.)"
    )


@COMMANDS.command(
    "toila",
    group_only=True,
    aliases=("iam",),
    vi_name="tôi là",
    roles=EVERYONE,
    summary="Nhận tên của mình trong danh sách tổ đã nhập, để không thành hai người",
    usage="/toila <số trong danh sách>\nVí dụ: /toila 2 (danh sách hiện ra khi gõ /thamgia)",
    order=12,
)
async def toila(ctx: Context) -> str:
    """Claim one of the team's imported roster names: it becomes this account (roles, tasks, records kept)."""
    if ctx.unit is None:
        raise UserError("Lệnh /toila dùng trong nhóm đã kết nối với xã/phường, sau khi /thamgia tổ của bạn.")
    team = await org_store.team_of(ctx.session, ctx.person.id or 0, ctx.unit)
    if team is None:
        raise UserError("Bạn chưa ở tổ nào: gõ /thamgia <tên tổ> trước, danh sách tên sẽ hiện ra.")
    roster = await org_store.unclaimed_roster(ctx.session, team)
    if not roster:
        raise UserError(f"{team.name} không còn tên nào trong danh sách đã nhập chờ nhận.")
    listing = "\n".join(f"{n}. {person_name(p.display_name)}" for n, p in enumerate(roster[:20], start=1))
    arg = ctx.args.strip()
    if not arg.isdigit() or not 1 <= int(arg) <= min(len(roster), 20):
        raise UserError(f"Hãy gõ /toila và số thứ tự tên của bạn trong danh sách của {team.name}:\n{listing}")
    chosen = roster[int(arg) - 1]
    roles = {Role(m.role) for m, _u in await org_store.memberships_of(ctx.session, chosen.id or 0)}
    if any(role.rank > Role.MEMBER.rank for role in roles):
        # A name with a leader's role is claimed with the code the import printed for it, never by choosing.
        raise UserError(
            f"{person_name(chosen.display_name)} có vai trò {', '.join(role_label(r) for r in roles)}: "
            "hãy nhận bằng mã kết nối riêng do xã cấp (/ketnoi <mã>), không chọn từ danh sách."
        )
    await org_store.merge_people(
        ctx.session, keep=ctx.person, gone=chosen, actor_label=f"{ctx.msg.platform}:{ctx.msg.user_id}"
    )
    return (
        f"Đã nhận: bạn là {person_name(chosen.display_name)} trong danh sách của {unit_label(team)}. "
        "Việc được giao và kết quả đã ghi của tên này nay là của bạn; không có hai người."
    )


def _split_target_and_role(args: str) -> tuple[str, Role]:
    words = args.split()
    for size in (3, 2, 1):
        if len(words) > size:
            role = parse_role(" ".join(words[-size:]))
            if role is not None:
                return " ".join(words[:-size]), role
    raise UserError(
        "Cách dùng: /vaitro @người <vai trò>. Vai trò: thanh vien, to truong, lanh dao xa, can bo so.\n"
        "Ví dụ: /vaitro @Lan to truong"
    )


async def _resolve_target(ctx: Context, target: str) -> Person:
    # The person named: a tapped name or @mention (by user id, created if the bot never met them), else by text.
    named = [m for m in ctx.msg.mentions if m.text and m.text.strip() == target.strip()] or ctx.msg.mentions[:1]
    for mention in named[:1]:
        person = await org_store.person_of_mention(ctx.session, ctx.msg.platform, mention)
        if person is not None:
            return person
        if mention.username:
            target = mention.username
    people = await org_store.find_people(ctx.session, ctx.unit, target, ctx.msg.platform)
    if not people:
        raise UserError(
            f"Không tìm thấy người {quoted(target, 60)} trong đơn vị này. "
            "Người đó cần nhắn lệnh cho bot (ví dụ /thamgia) trước."
        )
    if len(people) > 1:
        names = ", ".join(person_name(p.display_name) for p in people[:5])
        raise UserError(f"Có nhiều người khớp với {quoted(target, 60)}: {names}. Hãy ghi rõ hơn.")
    return people[0]


async def _unit_for_role(ctx: Context, target: Person, role: Role) -> OrgUnit:
    assert ctx.unit is not None
    if role in (Role.MEMBER, Role.TEAM_LEADER):
        team = await org_store.team_of(ctx.session, target.id or 0, ctx.unit)
        if team is None:
            raise UserError(
                f"{person_name(target.display_name)} chưa tham gia tổ nào trong {ctx.unit.name}: "
                "người đó cần gõ /thamgia <tên tổ> trước."
            )
        return team
    if role == Role.COMMUNE_LEADER:
        commune = await org_store.nearest_of_level(ctx.session, ctx.unit, Level.COMMUNE)
        if commune is None:
            raise UserError("Vai trò lãnh đạo xã chỉ giao được trong nhóm của một xã/phường.")
        return commune
    if role == Role.STAFF:
        # The group's province (staff belong to a province); the root only when the group sits above provinces.
        province = await org_store.nearest_of_level(ctx.session, ctx.unit, Level.PROVINCE)
        return province or (await org_store.ancestors(ctx.session, ctx.unit))[0]
    raise UserError("Vai trò quản trị viên chỉ được cấp trên máy chủ (lệnh tocns joincode --role admin).")


@COMMANDS.command(
    "vaitro",
    group_only=True,
    aliases=("role",),
    vi_name="vai trò",
    roles=LEADERS,
    summary="Giao vai trò cho một người trong đơn vị của bạn",
    usage=(
        "/vaitro @người <vai trò>\nVai trò: thanh vien, to truong, lanh dao xa, can bo so\n"
        "Ví dụ: /vaitro @Lan to truong"
    ),
    order=12,
)
async def vaitro(ctx: Context) -> str:
    """Let a leader set a person's role within the leader's own unit."""
    if ctx.unit is None:
        raise UserError("Lệnh /vaitro dùng trong nhóm đã kết nối với đơn vị.")
    target_text, role = _split_target_and_role(ctx.args)
    target = await _resolve_target(ctx, target_text)
    unit = await _unit_for_role(ctx, target, role)
    actor_memberships = await org_store.memberships_of(ctx.session, ctx.person.id or 0)
    authority = [Role(m.role) for m, u in actor_memberships if m.role == Role.ADMIN or unit.path.startswith(u.path)]
    best = max((r.rank for r in authority), default=0)
    if best < role.rank or best < Role.TEAM_LEADER.rank:
        raise UserError(
            f"Bạn không có quyền giao vai trò {role_label(role)} trong {unit.name}: "
            "chỉ lãnh đạo của đơn vị đó (hoặc cấp trên) được giao, và không cao hơn vai trò của mình."
        )
    target_memberships = await org_store.memberships_of(ctx.session, target.id or 0)
    for membership, member_unit in target_memberships:
        if member_unit.id == unit.id and Role(membership.role).rank > best:
            raise UserError(
                f"{person_name(target.display_name)} đang giữ vai trò cao hơn bạn; bạn không thể đổi vai trò này."
            )
    await org_service.set_membership(ctx.session, person=target, unit=unit, role=role, actor=ctx.person)
    return f"Đã giao vai trò {role_label(role)} của {unit_label(unit)} cho {person_name(target.display_name)}."
