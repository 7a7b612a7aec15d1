"""`tocns org ...` and `tocns joincode`: the org tree and one-time join codes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from tocns.features.org import service as org_service
    from tocns.features.org import store as org_store
    from tocns.features.org.sheet import Problem


OPERATOR = "operator-cli"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `org` and `joincode` subcommands."""
    org = sub.add_parser("org", help="cây đơn vị hành chính và tổ").add_subparsers(dest="org_command", required=True)

    imp = org.add_parser("import", help="nạp tỉnh và xã/phường với mã chính thức (vietnam-provinces)")
    imp.add_argument("--province", help="mã tỉnh, ví dụ 01 (mặc định: cả nước)")
    imp.set_defaults(func=_import, database="creates")

    add = org.add_parser("add-team", help="tạo tổ dưới một xã/phường")
    add.add_argument("parent_code")
    add.add_argument("name")
    add.set_defaults(func=_add_team)

    teams = org.add_parser(
        "import-teams",
        help="nhập tổ và thành viên từ bảng tính (.xlsx/.csv): kiểm tra hết trước, có lỗi thì không nhập gì",
    )
    teams.add_argument("file", nargs="?", type=Path, help="tệp .xlsx hoặc .csv (xem --template)")
    teams.add_argument("--under", help="chỉ tìm xã/phường theo tên trong đơn vị này (mã tỉnh), khi tên trùng")
    teams.add_argument("--ttl", default="30d", help="thời hạn mã kết nối của tổ mới (mặc định 30d)")
    teams.add_argument("--template", type=Path, help="ghi tệp mẫu (.xlsx hoặc .csv) ra đường dẫn này rồi thoát")
    teams.set_defaults(func=_import_teams, database=_teams_database)

    lst = org.add_parser("list", help="liệt kê đơn vị")
    lst.add_argument("--under", help="chỉ đơn vị dưới mã này")
    lst.add_argument("--depth", type=int, default=None, help="số cấp hiển thị")
    lst.set_defaults(func=_list)

    merge = org.add_parser(
        "merge-people",
        help="gộp người trùng (tên nhập từ bảng tính và tài khoản chat cùng tổ, cùng họ tên), giữ việc và vai trò",
    )
    merge.add_argument("--yes", action="store_true", help="gộp thật (mặc định chỉ liệt kê các cặp sẽ gộp)")
    merge.set_defaults(func=_merge_people)

    code = sub.add_parser("joincode", help="cấp mã kết nối dùng một lần")
    code.add_argument("org_code")
    code.add_argument(
        "--role",
        default="commune_leader",
        help="member, team_leader, commune_leader, staff, admin (mặc định commune_leader)",
    )
    code.add_argument("--ttl", default="7d", help="thời hạn, ví dụ 7d, 12h (mặc định 7d)")
    code.set_defaults(func=_joincode)


def _teams_database(args: argparse.Namespace) -> str:
    """Writing the template needs no database; importing needs the existing one."""
    return "none" if args.template else "existing"


def _import(args: argparse.Namespace) -> int:
    from tocns.cli_common import run_in_session
    from tocns.features.org import store as org_store

    async def work(session: AsyncSession) -> org_store.ImportResult:
        return await org_store.import_divisions(session, args.province, actor_label=OPERATOR)

    result = run_in_session(work)
    print(
        f"Đã nạp {result.provinces} tỉnh/thành phố và {result.communes} xã/phường "
        f"({result.skipped} đơn vị đã có, bỏ qua)."
    )
    return 0


def _add_team(args: argparse.Namespace) -> int:
    from tocns.cli_common import run_in_session
    from tocns.features.org import store as org_store

    async def work(session: AsyncSession) -> str:
        team = await org_store.add_team(session, args.parent_code, args.name, actor_label=OPERATOR)
        return team.code

    code = run_in_session(work)
    print(code)
    return 0


def _import_teams(args: argparse.Namespace) -> int:
    from tocns.cli_common import parse_duration, run_in_session
    from tocns.config import get_settings
    from tocns.core.clock import utcnow
    from tocns.features.org import service as org_service
    from tocns.features.org import store as org_store
    from tocns.features.org.sheet import SheetError, read_sheet, write_template

    if args.template is not None:
        write_template(args.template)
        print(f"Đã ghi tệp mẫu {args.template}.")
        return 0
    if args.file is None:
        print(
            "Lỗi: cần tệp .xlsx hoặc .csv; lấy tệp mẫu bằng: tocns org import-teams --template mau.xlsx",
            file=sys.stderr,
        )
        return 2
    from tocns.core.filelimits import ImportLimits

    ttl = parse_duration(args.ttl)
    try:
        rows = read_sheet(args.file, ImportLimits.from_settings(get_settings()))
    except SheetError as exc:
        print(f"Lỗi: {exc} Không nhập gì.", file=sys.stderr)
        return 1

    async def work(session: AsyncSession) -> tuple[list[Problem], org_service.ImportOutcome | None]:
        under = await org_store.require_unit(session, args.under) if args.under else None
        plans, problems = await org_service.plan_team_import(session, rows, under)
        if problems:
            return problems, None
        return [], await org_service.apply_team_import(session, plans, utcnow(), ttl)

    problems, outcome = run_in_session(work)
    if outcome is None:
        for problem in problems:
            print(problem, file=sys.stderr)
        bad = len({p.row for p in problems})
        print(f"Không nhập gì: {bad}/{len(rows)} dòng có lỗi. Sửa các dòng trên rồi chạy lại.", file=sys.stderr)
        return 1
    _print_codes(outcome)
    print(
        f"Đã nhập {len(rows)} dòng: {outcome.teams_created} tổ mới ({outcome.teams_existing} đã có), "
        f"{outcome.people_created} người mới, {outcome.memberships_created} thành viên mới, "
        f"{outcome.roles_changed} vai trò cập nhật.",
        file=sys.stderr,
    )
    return 0


def _print_codes(outcome: org_service.ImportOutcome) -> None:
    """The codes to hand out: a team leader's per new team, then one per imported person (their own)."""
    from tocns.config import get_settings
    from tocns.core.dates import fmt_date
    from tocns.core.permissions import role_label

    tz = get_settings().tz
    print("Mã tổ\tTổ\tXã/phường\tMã kết nối (tổ trưởng)\tHết hạn")
    for code in outcome.codes:
        if code.join_code and code.expires_at:
            join = f"{code.join_code}\t{fmt_date(code.expires_at.astimezone(tz).date())}"
        else:
            join = f"(đã cấp trước; mã mới: tocns joincode {code.team_code} --role team_leader)\t"
        print(f"{code.team_code}\t{code.team_name}\t{code.commune_name}\t{join}")
    if not outcome.personal:
        return
    print("\nMã riêng của từng người (gõ /ketnoi <mã> trong nhóm của xã hoặc nhắn riêng cho bot)")
    print("Họ tên\tMã tổ\tTổ\tVai trò\tMã kết nối riêng\tHết hạn")
    for person in outcome.personal:
        if person.join_code and person.expires_at:
            join = f"{person.join_code}\t{fmt_date(person.expires_at.astimezone(tz).date())}"
        else:
            join = "(đã có tài khoản hoặc đã cấp trước)\t"
        print(f"{person.name}\t{person.team_code}\t{person.team_name}\t{role_label(person.role)}\t{join}")


def _list(args: argparse.Namespace) -> int:
    from tocns.cli_common import run_in_session
    from tocns.features.org import store as org_store

    async def work(session: AsyncSession) -> list[str]:
        under = await org_store.require_unit(session, args.under) if args.under else None
        units = await org_store.list_units(session, under, args.depth)
        base = under.depth if under else 0
        return [f"{'  ' * (u.depth - base)}{u.code}\t{u.name}\t[{u.level}]" for u in units]

    lines = run_in_session(work)
    if not lines:
        print("Chưa có đơn vị nào. Nạp bằng: tocns org import --province <mã tỉnh>")
    for line in lines:
        print(line)
    return 0


def _joincode(args: argparse.Namespace) -> int:
    from tocns.cli_common import parse_duration, run_in_session
    from tocns.config import get_settings
    from tocns.core.clock import utcnow
    from tocns.core.dates import fmt_time
    from tocns.core.permissions import parse_role, role_label
    from tocns.core.roles import Role
    from tocns.features.org import service as org_service
    from tocns.features.org import store as org_store

    role = parse_role(args.role)
    if role is None:
        raise SystemExit(
            f"Lỗi: vai trò {args.role!r} không hợp lệ. Chọn một trong: " + ", ".join(r.value for r in Role)
        )
    ttl = parse_duration(args.ttl)

    tz = get_settings().tz

    async def work(session: AsyncSession) -> tuple[str, str, str]:
        unit = await org_store.require_unit(session, args.org_code)
        code = await org_service.create_join_code(
            session, unit=unit, role=role, ttl=ttl, now=utcnow(), actor_label=OPERATOR
        )
        # An operator reads local time in the Vietnamese form, like every other date the bot prints.
        return code.code, unit.name, fmt_time(code.expires_at, tz)

    code, unit_name, expires = run_in_session(work)
    print(code)
    print(
        f"# {unit_name}, vai trò {role_label(role)}, dùng một lần, hết hạn lúc {expires}. "
        f"Trong nhóm, gõ: /ketnoi {code}",
        file=sys.stderr,
    )
    return 0


def _merge_people(args: argparse.Namespace) -> int:
    from tocns.cli_common import run_in_session
    from tocns.core.text import person_name
    from tocns.features.org import service as org_service
    from tocns.features.org import store as org_store

    async def work(session: AsyncSession) -> list[str]:
        pairs = await org_service.duplicate_people(session)
        lines = []
        for team, roster, account in pairs:
            lines.append(
                f"{team.code}\t{team.name}\t{person_name(roster.display_name)} ({roster.platform}) "
                f"→ {person_name(account.display_name)} ({account.platform}:{account.user_id})"
            )
            if args.yes:
                await org_store.merge_people(session, keep=account, gone=roster, actor_label=OPERATOR)
        return lines

    lines = run_in_session(work)
    for line in lines:
        print(line)
    if not lines:
        print("Không có người trùng.")
    elif args.yes:
        print(f"Đã gộp {len(lines)} cặp.")
    else:
        print(f"{len(lines)} cặp sẽ được gộp. Chạy lại với --yes để gộp.")
    return 0
