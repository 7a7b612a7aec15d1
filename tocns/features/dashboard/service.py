"""The dashboard's logic: sign-in links, sessions, who sees what, and the pages' figures from the report service."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.config import Settings
from tocns.core.context import UserError
from tocns.core.period import Period, week_of
from tocns.core.permissions import LEADERS
from tocns.core.roles import Role
from tocns.features.dashboard import store
from tocns.features.dashboard.chart import trend_svg
from tocns.features.dashboard.models import DashboardLink
from tocns.features.directives import service as directives
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit, Person
from tocns.features.reports.service import unit_report
from tocns.features.reports.store import Report
from tocns.features.tasks.store import TaskProgress, task_progress

SESSION_HOURS = 12
TREND_WEEKS = 8
LATEST_DIRECTIVES = 5
SIGN_IN_PATH = "/dashboard/vao"
# Roles that may direct: the same as /chidao's authority.
DIRECTING_ROLES = (Role.STAFF, Role.ADMIN)


class SignInRefused(Exception):
    """A sign-in link that cannot be used; the message says why in Vietnamese."""


def _key(settings: Settings) -> bytes:
    """The session-signing key, derived from LINK_SIGNING_SECRET (a separate key per use of the one secret)."""
    if not settings.link_signing_secret:
        raise RuntimeError("LINK_SIGNING_SECRET is empty: dashboard sessions cannot be signed")
    return hmac.new(settings.link_signing_secret.encode(), b"dashboard-session", hashlib.sha256).digest()


def session_cookie(settings: Settings, link_id: int, now: datetime) -> str:
    """The signed cookie value of session `link_id`, valid SESSION_HOURS from `now`."""
    expires = int((now + timedelta(hours=SESSION_HOURS)).timestamp())
    sig = hmac.new(_key(settings), f"{link_id}|{expires}".encode(), hashlib.sha256).hexdigest()
    return f"{link_id}.{expires}.{sig}"


def read_cookie(settings: Settings, value: str, now: datetime) -> int | None:
    """The session id of a cookie whose signature is right and whose time is not over; None otherwise."""
    if not settings.link_signing_secret:
        return None
    try:
        link_id, expires, sig = value.split(".")
        number, until = int(link_id), int(expires)
    except ValueError:
        return None
    good = hmac.new(_key(settings), f"{number}|{until}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(good, sig) or until < now.timestamp():
        return None
    return number


def enabled(settings: Settings) -> bool:
    """Whether sessions can be signed (LINK_SIGNING_SECRET is set): without it nobody can sign in."""
    return bool(settings.link_signing_secret)


def sign_in_url(settings: Settings, token: str) -> str:
    """The one-time URL of a token."""
    return f"{settings.public_base_url.rstrip('/')}{SIGN_IN_PATH}/{token}"


async def link_for_person(session: AsyncSession, person: Person, now: datetime) -> str:
    """A one-time token for a person's units where they lead or work for the department; refuse anyone else."""
    memberships = await org_store.memberships_of(session, person.id or 0)
    scope: list[tuple[int, str]] = []
    for membership, unit in memberships:
        if membership.role == Role.ADMIN:
            scope += [(root.id or 0, Role.ADMIN.value) for root in await store.root_units(session)]
        elif membership.role in LEADERS:
            scope.append((unit.id or 0, membership.role))
    if not scope:
        raise UserError(
            "Trang điều hành dành cho tổ trưởng, lãnh đạo xã/phường và cán bộ Sở. Bạn chưa có vai trò đó ở đơn vị nào."
        )
    token, _row = await store.create_link(session, person, list(dict.fromkeys(scope)), now)
    return token


async def link_for_unit(session: AsyncSession, unit: OrgUnit, now: datetime) -> str:
    """A one-time token reading `unit` and everything under it (the operator's link; it sends nothing)."""
    token, _row = await store.create_link(session, None, [(unit.id or 0, Role.STAFF.value)], now)
    return token


def refusal(link: DashboardLink | None, now: datetime) -> str | None:
    """Why a sign-in link cannot be used (Vietnamese), or None when it can."""
    if link is None:
        return "Link đăng nhập không đúng. Hãy gõ /web trong tin nhắn riêng với bot để lấy link mới."
    if link.used_at is not None:
        return "Link đăng nhập này đã được dùng. Mỗi link chỉ dùng một lần; gõ /web để lấy link mới."
    if store.aware(link.expires_at) < now:
        minutes = int(store.LINK_TTL.total_seconds() // 60)
        return f"Link đăng nhập đã hết hạn (chỉ có hiệu lực {minutes} phút). Gõ /web để lấy link mới."
    return None


async def redeem(session: AsyncSession, token: str, now: datetime) -> DashboardLink:
    """Use a sign-in link once: the link becomes a session; a used, expired or unknown link is refused."""
    link = await store.link_by_token(session, token)
    problem = refusal(link, now)
    if problem is not None or link is None:
        raise SignInRefused(problem)
    link.used_at = now
    session.add(link)
    return link


@dataclass
class Viewer:
    """Who is signed in: the session, the person (None for an operator's link) and the units they may see."""

    link: DashboardLink
    person: Person | None
    areas: list[tuple[OrgUnit, str]]

    @property
    def units(self) -> list[OrgUnit]:
        """The topmost units the viewer sees (everything below them too)."""
        return [unit for unit, _role in self.areas]

    @property
    def home(self) -> OrgUnit:
        """The unit of the overview: the topmost of the viewer's units."""
        return self.units[0]

    @property
    def authority(self) -> list[OrgUnit]:
        """Where the viewer may send directives (department staff and admins who are a person)."""
        if self.person is None:
            return []
        return [unit for unit, role in self.areas if role in DIRECTING_ROLES]

    @property
    def name(self) -> str:
        """How the page names the viewer."""
        return self.person.display_name if self.person else "Quản trị (link của máy chủ)"

    def may_see(self, unit: OrgUnit) -> bool:
        """Whether `unit` lies inside one of the viewer's units."""
        return any(unit.path.startswith(area.path) for area in self.units)


async def viewer_of(session: AsyncSession, settings: Settings, cookie: str | None, now: datetime) -> Viewer | None:
    """The viewer of a session cookie; None without one, with a bad signature, after sign-out or time-out."""
    link_id = read_cookie(settings, cookie, now) if cookie else None
    link = await store.get_link(session, link_id) if link_id is not None else None
    if link is None or link.used_at is None or link.signed_out_at is not None:
        return None
    if store.aware(link.used_at) + timedelta(hours=SESSION_HOURS) < now:
        return None
    areas = await store.units_of_scope(session, link)
    if not areas:
        return None
    return Viewer(link, await store.person_by_id(session, link.person_id), areas)


async def sign_out(session: AsyncSession, viewer: Viewer, now: datetime) -> None:
    """End the session on the server: the cookie is worthless afterwards, even if copied."""
    viewer.link.signed_out_at = now
    session.add(viewer.link)


@dataclass
class Trend:
    """One indicator's weekly totals over TREND_WEEKS weeks, the last being the week on screen."""

    code: str
    name: str
    unit: str
    weeks: list[tuple[Period, int]]
    svg: str = ""

    @property
    def total(self) -> int:
        """The sum over the weeks (an indicator without any is listed, not drawn)."""
        return sum(value for _week, value in self.weeks)


@dataclass
class CommuneLine:
    """A row of the completeness table."""

    code: str
    name: str
    teams: int
    reporting: int
    records: int
    completeness: float
    timeliness: float | None


@dataclass
class Overview:
    """Everything the overview shows for one unit and one period."""

    unit: OrgUnit
    period: Period
    report: Report
    trends: list[Trend]
    overdue: list[TaskProgress]
    directives: list[directives.DirectiveStatus] = field(default_factory=list)

    @property
    def silent_children(self) -> list[str]:
        """Child units where no team reported in the period."""
        return [f"{c.name} ({c.code})" for c in self.report.children if c.teams and not c.reporting_teams]


async def trends(session: AsyncSession, unit: OrgUnit, report: Report, period: Period) -> list[Trend]:
    """The TREND_WEEKS weeks up to the period's last week, per indicator (the report's filters, one query).

    For a week's overview the last two bars are the report's own figures (this week and the previous one), so the
    chart and the table cannot disagree and the query reads six weeks instead of eight.
    """
    last = week_of(period.end)
    weeks = [week_of(last.start - timedelta(days=7 * k)) for k in range(TREND_WEEKS - 1, -1, -1)]
    reuse = period.kind == "week"
    queried_end = weeks[-3].end if reuse else weeks[-1].end
    daily = await store.daily_totals(session, unit, weeks[0].start, queried_end)
    out = []
    for total in report.totals:
        values = []
        for index, week in enumerate(weeks):
            if reuse and index >= TREND_WEEKS - 2:
                values.append((week, total.quantity if index == TREND_WEEKS - 1 else total.previous))
                continue
            days = [week.start + timedelta(days=d) for d in range(7)]
            values.append((week, sum(daily.get((day, total.code), 0) for day in days)))
        trend = Trend(total.code, total.name, total.unit, values)
        trend.svg = trend_svg([v for _w, v in values], [f"T{w.start.isocalendar()[1]}" for w, _v in values])
        out.append(trend)
    return out


async def overdue_tasks(session: AsyncSession, unit: OrgUnit, today: date) -> list[TaskProgress]:
    """Open tasks under `unit` whose deadline (within the last year) has passed with someone not finished."""
    tasks = await task_progress(session, unit, today - timedelta(days=366), today)
    return [t for t in tasks if t.overdue(today)]


async def latest_directives(
    session: AsyncSession, viewer: Viewer, limit: int = LATEST_DIRECTIVES
) -> list[directives.DirectiveStatus]:
    """The latest directives of the viewer's area (and their own), each limited to the communes they see."""
    person_id = viewer.person.id if viewer.person else None
    found = await store.directives_within(session, viewer.units, person_id, limit)
    out = []
    for directive in found:
        status = await directives.directive_status(session, directive)
        out.append(status if status.within(viewer.units) else status.only(viewer.units))
    return out


async def overview(
    session: AsyncSession, viewer: Viewer, unit: OrgUnit, period: Period, settings: Settings, now: datetime
) -> Overview:
    """The overview of `unit`: the report service's figures, trends, overdue tasks and latest directives."""
    # The page shows children, totals and silent teams; every team's figures are only in the downloaded workbook.
    report = await unit_report(session, unit, period, settings, now, team_rows=False)
    today = now.astimezone(settings.tz).date()
    return Overview(
        unit=unit,
        period=period,
        report=report,
        trends=await trends(session, unit, report, period),
        overdue=await overdue_tasks(session, unit, today),
        directives=await latest_directives(session, viewer),
    )


def commune_lines(report: Report) -> list[CommuneLine]:
    """The report's child units as rows of the completeness table."""
    return [
        CommuneLine(c.code, c.name, c.teams, c.reporting_teams, c.records, c.completeness, c.timeliness)
        for c in report.children
    ]


async def breadcrumb(session: AsyncSession, viewer: Viewer, unit: OrgUnit) -> list[OrgUnit]:
    """The unit's ancestors the viewer may see, topmost first, ending with the unit."""
    return [u for u in await org_store.ancestors(session, unit) if viewer.may_see(u)]


async def visible_directive(session: AsyncSession, viewer: Viewer, number: int) -> directives.DirectiveStatus | None:
    """A directive's status limited to the viewer's communes; None when it touches none of them and is not theirs."""
    from tocns.features.directives import store as directive_store

    directive = await directive_store.get_directive(session, number)
    if directive is None:
        return None
    status = await directives.directive_status(session, directive)
    mine = viewer.person is not None and directive.created_by_person_id == viewer.person.id
    limited = status.only(viewer.units)
    if not mine and not limited.communes:
        return None
    return status if mine and status.within(viewer.authority or viewer.units) else limited
