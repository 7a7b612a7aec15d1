"""/giaoviec, /nhiemvu, /xong, /huyviec and /caidat: monthly tasks with deadlines and their reminders."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date

from tocns.core.context import Context, UserError
from tocns.core.dates import (
    DEADLINE_HELP,
    DeadlineError,
    end_of_month,
    fmt_date,
    fmt_month,
    fmt_time,
    holiday_name,
    month_key,
    parse_deadline,
    parse_month,
    weekday_name,
)
from tocns.core.mentions import mention_tokens, restore_tokens
from tocns.core.messages import Mention
from tocns.core.parsing import MAX_ID, parse_id
from tocns.core.permissions import COMMUNE_LEADERS, LEADERS, MEMBERS
from tocns.core.registry import CommandGroup
from tocns.core.roles import Level, Role
from tocns.core.text import fold, fold_compact, one_line, person_name, quoted
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit, Person
from tocns.features.tasks import store as task_store
from tocns.features.tasks.grammar import SettingsParseError, parse_settings
from tocns.features.tasks.jobs import OVERDUE_DAYS
from tocns.features.tasks.models import Task, TaskAssignee, TaskScope
from tocns.features.tasks.render import due_status, mention

COMMANDS = CommandGroup()
"""This feature's chat commands but /caidat, which `command_group` adds with the other features' forms."""

MAX_PLAN_LINES = 30


@dataclass
class Authority:
    """What the sender may do with tasks of one commune."""

    commune_wide: bool
    led_teams: set[int] = field(default_factory=set)


async def _commune(ctx: Context) -> OrgUnit:
    if ctx.unit is None:
        raise UserError(
            f"Lệnh /{ctx.command.name} dùng trong nhóm đã kết nối với xã/phường hoặc tổ. "
            "Nhóm này chưa kết nối: người được cấp mã hãy gõ /ketnoi <mã>."
        )
    commune = await org_store.nearest_of_level(ctx.session, ctx.unit, Level.COMMUNE)
    if commune is None:
        raise UserError(f"Lệnh /{ctx.command.name} dùng trong nhóm của một xã/phường hoặc một tổ.")
    return commune


async def _authority(ctx: Context, commune: OrgUnit) -> Authority:
    memberships = await org_store.memberships_of(ctx.session, ctx.person.id or 0)
    commune_wide = any(
        m.role == Role.ADMIN or (Role(m.role).rank >= Role.COMMUNE_LEADER.rank and commune.path.startswith(u.path))
        for m, u in memberships
    ) or (ctx.msg.anonymous_admin and bool(ctx.roles & {Role.COMMUNE_LEADER, Role.STAFF}))
    led = {
        u.id or 0
        for m, u in memberships
        if m.role == Role.TEAM_LEADER and u.level == Level.TEAM and u.path.startswith(commune.path)
    }
    return Authority(commune_wide=commune_wide, led_teams=led)


@dataclass
class TaskSpec:
    """A task as read from one line, before it is saved."""

    title: str
    due: date
    scope: TaskScope
    people: list[Person]
    teams: list[OrgUnit]


def _match_team(name: str, teams: list[OrgUnit]) -> OrgUnit | None:
    compact = fold_compact(name)
    for team in teams:
        if compact in (fold_compact(team.name), fold_compact(team.code)):
            return team
    return None


async def _resolve_person(ctx: Context, token: str, commune: OrgUnit, tapped: dict[str, Mention]) -> Person:
    """The person a `@name` word names: a tapped name or @mention by user id first, then username or name."""
    mention = tapped.get(token)
    if mention is not None:
        person = await org_store.person_of_mention(ctx.session, ctx.msg.platform, mention)
        if person is not None:
            return person
    name = token.lstrip("@")
    for m in ctx.msg.mentions:
        if m.user_id and name.lower() in {(m.username or "").lower(), fold(m.display_name or "")}:
            person = await org_store.person_of_mention(ctx.session, ctx.msg.platform, m)
            if person is not None:
                return person
    found = await org_store.find_people(ctx.session, commune, name, ctx.msg.platform)
    if not found:
        raise UserError(
            f"Không tìm thấy người {quoted(token, 60)} trong {commune.name}. "
            "Hãy chạm vào tên người đó để nhắc tên (mention), hoặc người đó nhắn lệnh cho bot (ví dụ /thamgia) trước."
        )
    if len(found) > 1:
        options = "\n".join(
            f"{n}. @{person_name(p.display_name)}" + (f" (hoặc @{p.username})" if p.username else "")
            for n, p in enumerate(found[:8], start=1)
        )
        raise UserError(
            f"Có {len(found)} người khớp với {quoted(token, 60)}:\n{options}\n"
            "Gửi lại lệnh với tên đầy đủ của người cần giao (như một dòng ở trên), hoặc chạm vào tên để nhắc."
        )
    return found[0]


@dataclass
class _Assignees:
    """The assignees named at the end of a task line, and the words before them (the title)."""

    words: list[str]
    scope: TaskScope | None = None  # None: the line names nobody
    people: list[Person] = field(default_factory=list)
    teams: list[OrgUnit] = field(default_factory=list)
    unknown_team: str = ""  # the words after the last "tổ" when they name no team


def _read_due(ctx: Context, text: str, month: date | None) -> tuple[date, str]:
    """The deadline at the front and the rest; in a month plan it may be left out (the month's last day) but must
    fall in that month."""
    try:
        due, rest = parse_deadline(text, ctx.today)
    except DeadlineError:
        first = text.split()[0] if text.split() else ""
        if month is None or re.match(r"^\d", first):
            raise
        due, rest = end_of_month(month), text
    if month is not None and (due.year, due.month) != (month.year, month.month):
        raise UserError(f"hạn {fmt_date(due)} không thuộc tháng {fmt_month(month)}.")
    return due, rest


async def _read_assignees(
    ctx: Context, commune: OrgUnit, words: list[str], teams: list[OrgUnit], tapped: dict[str, Mention]
) -> _Assignees:
    """The assignees at the end of the words: `tất cả`, `@người ...` or `tổ <tên>`."""
    if len(words) >= 2 and fold(" ".join(words[-2:])) == "tat ca":
        return _Assignees(words[:-2], TaskScope.COMMUNE, teams=teams)
    first_at = next((i for i, w in enumerate(words) if w.startswith("@")), None)
    if first_at is not None:
        people = await _people_named(ctx, commune, words[first_at:], tapped)
        return _Assignees(words[:first_at], TaskScope.PEOPLE, people=people)
    return _team_named(words, teams)


async def _people_named(ctx: Context, commune: OrgUnit, words: list[str], tapped: dict[str, Mention]) -> list[Person]:
    """The people named from the first @ on, each once; a name may have several words ("@Bế Thị Hoa @Tùng")."""
    tokens: list[str] = []
    for word in words:
        if word.startswith("@") or not tokens:
            tokens.append(word)
        else:
            tokens[-1] += f" {word}"
    people: list[Person] = []
    for token in tokens:
        person = await _resolve_person(ctx, token, commune, tapped)
        if person.id not in {p.id for p in people}:
            people.append(person)
    return people


def _team_named(words: list[str], teams: list[OrgUnit]) -> _Assignees:
    """`tổ <tên>` at the end, the last `tổ` that names a team; else nobody, with what followed `tổ` if anything."""
    unknown_team = ""
    for i in range(len(words) - 2, -1, -1):
        if fold(words[i]) == "to":
            named = " ".join(words[i + 1 :])
            team = _match_team(named, teams)
            if team is not None:
                return _Assignees(words[:i], TaskScope.TEAM, teams=[team])
            unknown_team = unknown_team or named
    return _Assignees(words, unknown_team=unknown_team)


def _unnamed_assignees(
    commune: OrgUnit, auth: Authority, teams: list[OrgUnit], month: date | None, unknown_team: str
) -> tuple[TaskScope, list[OrgUnit]]:
    """A line that names nobody: refused with the reason, except in a month plan, where it goes to every team the
    sender leads (all of them for a commune leader)."""
    if month is None and unknown_team:
        known = ", ".join(t.name for t in teams[:12]) or "chưa có tổ nào"
        raise UserError(f"Không tìm thấy tổ {quoted(unknown_team, 60)} trong {commune.name}. Các tổ: {known}.")
    if month is None:
        raise UserError(
            "Thiếu người nhận việc. Ghi ở cuối: @người (một hoặc nhiều), tổ <tên tổ> hoặc tất cả.\n"
            "Ví dụ: /giaoviec 30/11 Nộp báo cáo tháng tổ Thôn 1"
        )
    if auth.commune_wide:
        return TaskScope.COMMUNE, teams
    return TaskScope.TEAM, [t for t in teams if t.id in auth.led_teams]


async def _read_task(ctx: Context, commune: OrgUnit, auth: Authority, text: str, month: date | None = None) -> TaskSpec:
    """Read `<hạn> <nội dung> [@người ... | tổ <tên> | tất cả]`; in a month plan the deadline may be left out."""
    due, rest = _read_due(ctx, text, month)
    rest, tapped = mention_tokens(rest, ctx.msg.mentions)
    teams = await org_store.descendants(ctx.session, commune, level=Level.TEAM)
    named = await _read_assignees(ctx, commune, rest.split(), teams, tapped)
    title = restore_tokens(" ".join(named.words), tapped).strip()
    if not title:
        raise UserError("Thiếu nội dung công việc. Ví dụ: /giaoviec 30/11 Nộp báo cáo tháng tất cả")
    if named.scope is None:
        scope, chosen = _unnamed_assignees(commune, auth, teams, month, named.unknown_team)
    else:
        scope, chosen = named.scope, named.teams
    if scope == TaskScope.COMMUNE and not chosen:
        raise UserError(f"{commune.name} chưa có tổ nào để giao việc.")
    await _check_allowed(ctx, commune, auth, scope, named.people, chosen)
    return TaskSpec(title=title, due=due, scope=scope, people=named.people, teams=chosen)


async def _check_allowed(
    ctx: Context, commune: OrgUnit, auth: Authority, scope: TaskScope, people: list[Person], teams: list[OrgUnit]
) -> None:
    if auth.commune_wide:
        for person in people:
            if await org_store.team_of(ctx.session, person.id or 0, commune) is None and not any(
                u.path.startswith(commune.path) for _m, u in await org_store.memberships_of(ctx.session, person.id or 0)
            ):
                raise UserError(f"{person_name(person.display_name)} không thuộc {commune.name}.")
        return
    if scope == TaskScope.COMMUNE:
        raise UserError("Chỉ lãnh đạo xã/phường mới giao việc cho tất cả các tổ. Tổ trưởng giao việc trong tổ mình.")
    for team in teams:
        if team.id not in auth.led_teams:
            raise UserError(f"Bạn chỉ giao việc được trong tổ mình phụ trách; {team.name} không phải tổ của bạn.")
    for person in people:
        person_team = await org_store.team_of(ctx.session, person.id or 0, commune)
        if person_team is None or person_team.id not in auth.led_teams:
            raise UserError(
                f"Bạn chỉ giao việc được cho thành viên tổ mình; {person_name(person.display_name)} "
                "không thuộc tổ bạn phụ trách."
            )


def _assignee_names(spec: TaskSpec) -> str:
    if spec.scope == TaskScope.COMMUNE:
        return f"tất cả {len(spec.teams)} tổ"
    return ", ".join([mention(p) for p in spec.people] + [t.name for t in spec.teams])


async def _save(ctx: Context, commune: OrgUnit, spec: TaskSpec, plan_month: str | None) -> Task:
    task, _rows = await task_store.create_task(
        ctx.session,
        commune=commune,
        title=spec.title,
        due_date=spec.due,
        scope=spec.scope,
        platform=ctx.msg.platform,
        chat_id=ctx.msg.chat_id,
        thread_id=ctx.msg.thread_id,
        now=ctx.now,
        creator=ctx.person,
        people=spec.people,
        teams=spec.teams,
        plan_month=plan_month,
    )
    return task


@COMMANDS.command(
    "giaoviec",
    unit_scoped=True,
    aliases=("task",),
    vi_name="giao việc",
    roles=LEADERS,
    summary="Giao việc có hạn cho người, cho tổ hoặc cho tất cả các tổ",
    usage=(
        "/giaoviec <hạn> <nội dung> [@người ... | tổ <tên> | tất cả]\n"
        f"{DEADLINE_HELP}\n"
        "Ví dụ: /giaoviec thứ 6 Hướng dẫn cài VNeID tổ Thôn 1\n"
        "Kế hoạch tháng: /giaoviec thang 12/2026 rồi mỗi dòng một việc."
    ),
    order=30,
)
async def giaoviec(ctx: Context) -> str:
    """Create one task, or a month's plan (one task per line)."""
    commune = await _commune(ctx)
    auth = await _authority(ctx, commune)
    if not auth.commune_wide and not auth.led_teams:
        raise UserError(f"Bạn không phụ trách tổ nào trong {commune.name} nên chưa giao việc được.")
    if not ctx.args:
        raise UserError(f"Cách dùng: {ctx.command.usage}")
    lines = [line.strip() for line in ctx.args.splitlines() if line.strip()]
    head = lines[0].split(maxsplit=1)
    if fold(head[0]) == "thang":
        return await _month_plan(ctx, commune, auth, head[1] if len(head) > 1 else "", lines[1:])
    try:
        spec = await _read_task(ctx, commune, auth, " ".join(lines))
    except DeadlineError as exc:
        raise UserError(str(exc)) from exc
    task = await _save(ctx, commune, spec, None)
    holiday = holiday_name(spec.due)
    # Accepted (some work is due on a holiday), but said out loud: the sender may have miscounted the days.
    warning = f"\nLưu ý: hạn rơi vào ngày nghỉ lễ ({holiday})." if holiday else ""
    return (
        f"Đã giao việc #{task.id}: {quoted(spec.title)}\n"
        f"Hạn: {weekday_name(spec.due)}, {fmt_date(spec.due)}{warning}\n"
        f"Người nhận: {_assignee_names(spec)}\n"
        f"Khi xong, gõ /xong {task.id} [kết quả]."
    )


async def _month_plan(ctx: Context, commune: OrgUnit, auth: Authority, month_text: str, lines: list[str]) -> str:
    try:
        month = parse_month(month_text, ctx.today)
    except DeadlineError as exc:
        raise UserError(str(exc)) from exc
    label = fmt_month(month)
    if end_of_month(month) < ctx.today:
        raise UserError(f"Tháng {label} đã qua; hãy lập kế hoạch cho tháng này hoặc các tháng tới.")
    if not lines:
        raise UserError(
            f"Kế hoạch tháng {label} chưa có việc nào. Viết mỗi việc một dòng sau dòng lệnh, ví dụ:\n"
            f"/giaoviec thang {label}\n15/{fmt_month(month)} Hướng dẫn dịch vụ công tất cả\nNộp báo cáo tháng"
        )
    if len(lines) > MAX_PLAN_LINES:
        raise UserError(f"Kế hoạch có {len(lines)} việc; mỗi lần tối đa {MAX_PLAN_LINES}. Chưa có gì được lưu.")
    specs: list[TaskSpec] = []
    for number, line in enumerate(lines, start=1):
        try:
            specs.append(await _read_task(ctx, commune, auth, line, month=month))
        except (UserError, DeadlineError) as exc:
            raise UserError(f"Dòng {number} ({quoted(line, 80)}): {exc}\nChưa có việc nào được lưu.") from exc
    out = [f"Đã lập kế hoạch tháng {label} cho {commune.name}: {len(specs)} việc."]
    for spec in specs:
        task = await _save(ctx, commune, spec, month_key(month))
        out.append(f"#{task.id} · {one_line(spec.title)} · hạn {fmt_date(spec.due)} · {_assignee_names(spec)}")
    out.append("Xem tiến độ: /nhiemvu thang")
    return "\n".join(out)


async def _labels(ctx: Context, rows: list[TaskAssignee]) -> dict[int, str]:
    people = await task_store.people_by_ids(ctx.session, [r.person_id for r in rows if r.person_id])
    units = await task_store.units_by_ids(ctx.session, [r.team_id for r in rows if r.team_id])
    return {
        r.id or 0: (mention(people[r.person_id]) if r.person_id else units[r.team_id or 0].name)
        for r in rows
        if (r.person_id in people) or (r.team_id in units)
    }


@COMMANDS.command(
    "nhiemvu",
    private=True,
    unit_scoped=True,
    anonymous=True,
    aliases=("tasks",),
    vi_name="nhiệm vụ",
    roles=MEMBERS,
    summary="Việc chưa xong của bạn, tổ bạn hoặc cả xã; 'thang' để xem kế hoạch tháng",
    usage="/nhiemvu\n/nhiemvu thang [mm/yyyy]",
    order=31,
)
async def nhiemvu(ctx: Context) -> str:
    """List open tasks (overdue first) or the month's plan with completion."""
    commune = await _commune(ctx)
    auth = await _authority(ctx, commune)
    words = ctx.args.split()
    if words and fold(words[0]) == "thang":
        return await _month_view(ctx, commune, words[1] if len(words) > 1 else "")
    if words:
        raise UserError("Cách dùng: /nhiemvu hoặc /nhiemvu thang [mm/yyyy].")
    lines = await _open_lines(ctx, commune, auth)
    if not lines:
        return "Không có việc nào đang chờ. Lãnh đạo giao việc bằng /giaoviec."
    lines.sort(key=lambda item: (item[0], item[1]))
    return f"Việc chưa xong ({len(lines)}):\n" + "\n".join(text for *_k, text in lines)


async def _open_lines(ctx: Context, commune: OrgUnit, auth: Authority) -> list[tuple[bool, date, str]]:
    """A line for each open task the sender is concerned with, after its sort key (overdue first, then due)."""
    my_team = await org_store.team_of(ctx.session, ctx.person.id or 0, commune)
    tasks = await task_store.open_tasks(ctx.session, commune.id)
    rows_by_task = await task_store.assignees_of(ctx.session, [t.id or 0 for t in tasks])
    labels = await _labels(ctx, [r for rows in rows_by_task.values() for r in rows])
    lines: list[tuple[bool, date, str]] = []
    for task in tasks:
        rows = rows_by_task[task.id or 0]
        shown = _shown_assignees(ctx, auth, my_team, rows)
        if shown:
            lines.append(_open_line(ctx, task, rows, shown, labels))
    return lines


def _shown_assignees(
    ctx: Context, auth: Authority, my_team: OrgUnit | None, rows: list[TaskAssignee]
) -> list[TaskAssignee]:
    """The unfinished assignees the sender sees: all for a commune leader, else their own (or every one, when the
    task is theirs or one of a team they lead); none when the task is finished or not their concern."""
    pending = [r for r in rows if r.completed_at is None]
    if auth.commune_wide:
        return pending
    mine = [r for r in pending if r.person_id == ctx.person.id or (my_team and r.team_id == my_team.id)]
    if not mine and not any(r.team_id in auth.led_teams for r in pending):
        return []
    return mine or pending


def _open_line(
    ctx: Context, task: Task, rows: list[TaskAssignee], shown: list[TaskAssignee], labels: dict[int, str]
) -> tuple[bool, date, str]:
    """One open task in /nhiemvu (who has not finished, how many have) after its sort key."""
    who = ", ".join(labels.get(r.id or 0, "?") for r in shown[:6])
    more = f" và {len(shown) - 6} nơi khác" if len(shown) > 6 else ""
    done = sum(1 for r in rows if r.completed_at is not None)
    overdue = task.due_date < ctx.today
    return (
        not overdue,
        task.due_date,
        f"{'⚠️ ' if overdue else ''}#{task.id} {one_line(task.title)} · hạn {fmt_date(task.due_date)} "
        f"({due_status(task.due_date, ctx.today)}) · chưa xong: {who}{more} · {done}/{len(rows)} xong",
    )


async def _month_view(ctx: Context, commune: OrgUnit, month_text: str) -> str:
    try:
        month = parse_month(month_text, ctx.today) if month_text else ctx.today.replace(day=1)
    except DeadlineError as exc:
        raise UserError(str(exc)) from exc
    label = fmt_month(month)
    tasks = await task_store.month_tasks(ctx.session, commune.id or 0, month, end_of_month(month))
    if not tasks:
        return f"Tháng {label} chưa có việc nào của {commune.name}."
    rows_by_task = await task_store.assignees_of(ctx.session, [t.id or 0 for t in tasks])
    total = done_all = 0
    out = []
    for task in tasks:
        rows = rows_by_task[task.id or 0]
        done = sum(1 for r in rows if r.completed_at is not None)
        total += len(rows)
        done_all += done
        mark = "✅" if done == len(rows) else "⬜"
        out.append(
            f"{mark} #{task.id} {one_line(task.title)} · hạn {fmt_date(task.due_date)} · {done}/{len(rows)} xong"
        )
    percent = round(100 * done_all / total) if total else 0
    return f"Kế hoạch tháng {label} của {commune.name} (hoàn thành {percent}%):\n" + "\n".join(out)


def _task_id(text: str, usage: str) -> tuple[int, str]:
    words = text.split(maxsplit=1)
    task_id = parse_id(words[0]) if words else None
    if task_id is None:
        raise UserError(f"Thiếu mã việc. Cách dùng: {usage}")
    return task_id, words[1].strip() if len(words) > 1 else ""


async def _task_in_commune(ctx: Context, commune: OrgUnit, task_id: int) -> Task:
    task = await task_store.get_task(ctx.session, task_id) if task_id <= MAX_ID else None
    if task is None or task.commune_id != commune.id:
        raise UserError(f"Không có việc #{task_id} trong {commune.name}. Gõ /nhiemvu để xem các việc.")
    if task.status != "open":
        raise UserError(f"Việc #{task_id} đã bị huỷ.")
    return task


@COMMANDS.command(
    "xong",
    unit_scoped=True,
    aliases=("done",),
    vi_name="xong",
    roles=MEMBERS,
    summary="Báo đã hoàn thành một việc (việc của tổ: tính cho tổ bạn)",
    usage="/xong <mã việc> [kết quả]\nVí dụ: /xong 12 đã hướng dẫn 40 hộ",
    order=32,
)
async def xong(ctx: Context) -> str:
    """Complete a task for oneself or for one's team."""
    commune = await _commune(ctx)
    task_id, result = _task_id(ctx.args, ctx.command.usage)
    task = await _task_in_commune(ctx, commune, task_id)
    rows = (await task_store.assignees_of(ctx.session, [task_id]))[task_id]
    team = await org_store.team_of(ctx.session, ctx.person.id or 0, commune)
    row = next((r for r in rows if r.person_id == ctx.person.id), None)
    if row is None and team is not None:
        row = next((r for r in rows if r.team_id == team.id), None)
    if row is None:
        raise UserError(f"Việc #{task_id} không giao cho bạn hay tổ của bạn.")
    who = team.name if row.team_id and team else person_name(ctx.person.display_name)
    if row.completed_at is not None:
        when = fmt_time(row.completed_at, ctx.settings.tz)
        raise UserError(f"Việc #{task_id} của {who} đã được báo xong lúc {when}.")
    await task_store.complete(ctx.session, row, ctx.person, result, ctx.now)
    done = sum(1 for r in rows if r.completed_at is not None)
    tail = " Việc đã hoàn thành hết." if done == len(rows) else ""
    return f"Đã ghi nhận {who} hoàn thành việc #{task_id}: {quoted(task.title)} ({done}/{len(rows)} xong).{tail}"


@COMMANDS.command(
    "huyviec",
    unit_scoped=True,
    aliases=("canceltask",),
    vi_name="huỷ việc",
    roles=LEADERS,
    summary="Huỷ một việc đã giao (người giao hoặc lãnh đạo xã)",
    usage="/huyviec <mã việc>",
    order=33,
)
async def huyviec(ctx: Context) -> str:
    """Cancel a task: allowed to its creator and to the commune's leaders."""
    commune = await _commune(ctx)
    task_id, _rest = _task_id(ctx.args, ctx.command.usage)
    task = await _task_in_commune(ctx, commune, task_id)
    auth = await _authority(ctx, commune)
    if task.created_by_person_id != ctx.person.id and not auth.commune_wide:
        raise UserError(f"Chỉ người giao việc #{task_id} hoặc lãnh đạo {commune.name} mới huỷ được việc này.")
    await task_store.cancel(ctx.session, task, ctx.person, ctx.now)
    return f"Đã huỷ việc #{task_id}: {quoted(task.title)}. Sẽ không còn nhắc việc này."


SETTINGS_USAGE = "/caidat nhac 3,1,0\n/caidat baolanhdao 2\n/caidat nhac 3,1,0 baolanhdao 2"


@dataclass(frozen=True)
class SettingsForm:
    """Another feature's form of /caidat (the targets feature's households and adults), handed over by `tocns.app`."""

    usage: str
    # Its reply, or None when the arguments are not this form (they are then read as reminder settings).
    answer: Callable[[Context], Awaitable[str | None]]


def command_group(*forms: SettingsForm) -> CommandGroup:
    """This feature's chat commands, /caidat answering the forms given first; `tocns.app` includes them."""
    group = CommandGroup()
    group.commands = list(COMMANDS.commands)

    async def caidat(ctx: Context) -> str:
        """Answer the first form that reads the arguments, else show or change the commune's reminder settings."""
        for form in forms:
            reply = await form.answer(ctx)
            if reply is not None:
                return reply
        return await _reminder_settings(ctx)

    group.command(
        "caidat",
        unit_scoped=True,
        aliases=("settings",),
        vi_name="cài đặt",
        roles=COMMUNE_LEADERS,
        summary="Cài đặt nhắc việc của xã: số ngày nhắc trước hạn, số ngày quá hạn thì báo lãnh đạo",
        usage="\n".join([SETTINGS_USAGE, *(form.usage for form in forms), "/caidat (xem cài đặt hiện tại)"]),
        order=60,
    )(caidat)
    return group


async def _reminder_settings(ctx: Context) -> str:
    """Show or change the commune's reminder lead times and escalation delay."""
    commune = await _commune(ctx)
    if not (await _authority(ctx, commune)).commune_wide:
        raise UserError(f"Chỉ lãnh đạo {commune.name} mới đổi được cài đặt nhắc việc.")
    row = await task_store.get_reminder_setting(ctx.session, commune.id or 0)
    lead = [int(p) for p in row.lead_days.split(",") if p] if row else ctx.settings.default_lead_days
    escalate = row.escalate_after_days if row else ctx.settings.task_escalate_after_days
    try:
        change = parse_settings(ctx.args)
    except SettingsParseError as exc:
        # The reason first, then the usage once.
        raise UserError(f"{exc}\nCách dùng:\n{ctx.command.usage}") from exc
    if change is not None:
        lead = list(change.lead_days) if change.lead_days is not None else lead
        escalate = change.escalate_after_days if change.escalate_after_days is not None else escalate
        await task_store.set_reminder_setting(
            ctx.session, commune.id or 0, lead_days=lead, escalate_after_days=escalate, actor=ctx.person, now=ctx.now
        )
    lead_text = ", ".join("đúng ngày hạn" if d == 0 else f"{d} ngày trước" for d in lead)
    overdue_text = ", ".join(str(d) for d in OVERDUE_DAYS)
    prefix = "Đã lưu. " if change is not None else ""
    return (
        f"{prefix}Nhắc việc của {commune.name}: {lead_text}; "
        f"khi quá hạn: sau {overdue_text} ngày rồi chỉ nêu trong bản tổng hợp; "
        f"báo lãnh đạo xã khi quá hạn {escalate} ngày."
    )
