"""The dashboard's pages under /dashboard/: sign-in, overview, drill-down, directives and downloads (Vietnamese)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.background import BackgroundTask

from tocns.core.context import UserError
from tocns.core.dates import fmt_date, fmt_time
from tocns.core.period import USAGE, Period, PeriodError, parse_period
from tocns.core.roles import Level
from tocns.core.text import grouped
from tocns.features.activity.evidence import photo_shown
from tocns.features.dashboard import service
from tocns.features.dashboard.service import SESSION_HOURS, SignInRefused, Viewer
from tocns.features.directives import service as directives
from tocns.features.directives import store as directive_store
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit, Person, unit_label
from tocns.features.reports.files import report_download
from tocns.features.reports.render import render_csv
from tocns.features.reports.store import raw_records, stream_raw_records

if TYPE_CHECKING:
    from tocns.app import BotApp  # the web app's state carries it; imported for types only (no cycle)

PREFIX = "/dashboard"
COOKIE = "tocns_dashboard"
HERE = Path(__file__).parent
MAX_FORM_BYTES = 64_000

router = APIRouter(prefix=PREFIX, include_in_schema=False)
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["pct"] = lambda v: "–" if v is None else f"{v * 100:.0f}%"
templates.env.filters["num"] = grouped
templates.env.filters["signed"] = lambda v: ("+" if v > 0 else "") + f"{v:,}".replace(",", ".")
templates.env.globals.update(unit_label=unit_label, fmt_date=fmt_date, quote=quote, USAGE=USAGE)


def _level_class(value: float | None) -> str:
    """Colour band of a share: good from 80%, weak under 50%."""
    if value is None:
        return "none"
    return "good" if value >= 0.8 else "fair" if value >= 0.5 else "poor"


templates.env.filters["band"] = _level_class


def _bot(request: Request) -> BotApp:
    return request.app.state.bot  # type: ignore[no-any-return]


def _page(request: Request, name: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    bot = _bot(request)
    context.setdefault("viewer", None)
    context["tz"] = bot.settings.tz
    context["fmt_time"] = lambda moment: fmt_time(moment, bot.settings.tz) if moment else ""
    response = templates.TemplateResponse(request, name, context, status_code=http_status)
    # Pages hold a province's figures: never kept by a shared computer's cache or a proxy.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _message(request: Request, title: str, text: str, status: int, viewer: Viewer | None = None) -> HTMLResponse:
    return _page(request, "message.html", status, title=title, text=text, viewer=viewer)


def _signed_out(request: Request) -> HTMLResponse:
    return _message(
        request,
        "Cần đăng nhập",
        "Trang điều hành chỉ mở bằng link đăng nhập một lần: gõ /web trong tin nhắn riêng với bot "
        "(tổ trưởng, lãnh đạo xã/phường, cán bộ Sở) rồi mở link trong 15 phút.",
        401,
    )


async def _viewer(request: Request, session: AsyncSession) -> Viewer | None:
    bot = _bot(request)
    return await service.viewer_of(session, bot.settings, request.cookies.get(COOKIE), bot.clock())


def _period(request: Request, bot: BotApp) -> tuple[Period | None, str, str]:
    """The period of `?ky=` (the /baocao grammar; default this week), its text, and the refusal if any."""
    text = request.query_params.get("ky", "").strip()
    try:
        return parse_period(text, bot.clock().astimezone(bot.settings.tz).date()), text, ""
    except PeriodError as exc:
        return None, text, str(exc)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise UserError("Nội dung gửi lên quá dài.")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise UserError("Nội dung gửi lên không đọc được (không phải UTF-8).") from exc
    return {key: values[0] for key, values in fields.items()}


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    """The overview of the viewer's topmost unit for the period chosen (this week by default)."""
    bot = _bot(request)
    async with bot.db.session() as session:
        viewer = await _viewer(request, session)
        if viewer is None:
            return _signed_out(request)
        return await _overview_page(request, session, viewer, viewer.home)


async def _overview_page(request: Request, session: AsyncSession, viewer: Viewer, unit: OrgUnit) -> Response:
    bot = _bot(request)
    period, period_text, problem = _period(request, bot)
    if period is None:
        return _page(request, "period_error.html", 422, viewer=viewer, unit=unit, problem=problem, ky=period_text)
    view = await service.overview(session, viewer, unit, period, bot.settings, bot.clock())
    return _page(
        request,
        "overview.html",
        viewer=viewer,
        view=view,
        report=view.report,
        lines=service.commune_lines(view.report),
        crumbs=await service.breadcrumb(session, viewer, unit),
        ky=period_text,
    )


@router.get("/vao/{token}", response_class=HTMLResponse)
async def sign_in_page(request: Request, token: str) -> Response:
    """The sign-in link's page: a button, so that a chat app's link preview cannot use up the one-time link."""
    bot = _bot(request)
    async with bot.db.session() as session:
        link = await service.store.link_by_token(session, token)
    problem = service.refusal(link, bot.clock())
    if problem is not None:
        return _message(request, "Không đăng nhập được", problem, 410 if link else 404)
    return _page(request, "sign_in.html", token=token, hours=SESSION_HOURS)


@router.post("/vao/{token}")
async def sign_in(request: Request, token: str) -> Response:
    """Use the one-time link: set the signed session cookie and open the overview."""
    bot = _bot(request)
    now = bot.clock()
    if not service.enabled(bot.settings):
        return _message(request, "Chưa bật", "Máy chủ chưa đặt LINK_SIGNING_SECRET nên chưa đăng nhập được.", 503)
    try:
        async with bot.db.session() as session:
            link = await service.redeem(session, token, now)
            await session.flush()
            link_id = link.id or 0
    except SignInRefused as exc:
        return _message(request, "Không đăng nhập được", str(exc), 410)
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    response.set_cookie(
        COOKIE,
        service.session_cookie(bot.settings, link_id, now),
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=bot.settings.public_base_url.startswith("https://"),
        path=PREFIX,
    )
    return response


@router.post("/thoat")
async def sign_out(request: Request) -> Response:
    """Sign out: the session ends on the server and the cookie is removed."""
    bot = _bot(request)
    async with bot.db.session() as session:
        viewer = await _viewer(request, session)
        if viewer is not None:
            await service.sign_out(session, viewer, bot.clock())
    response = _message(request, "Đã đăng xuất", "Bạn đã đăng xuất. Gõ /web với bot để vào lại.", 200)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


async def _unit_for(request: Request, session: AsyncSession, viewer: Viewer, code: str) -> OrgUnit | Response:
    unit = await org_store.get_unit_by_code(session, code)
    if unit is None or not unit.active or not viewer.may_see(unit):
        # The same answer for a unit that does not exist and one outside the viewer's area: nothing leaks.
        return _message(request, "Không có đơn vị", f"Không có đơn vị mã «{code}» trong phạm vi của bạn.", 404, viewer)
    return unit


@router.get("/don-vi/{code}", response_class=HTMLResponse)
async def unit_page(request: Request, code: str) -> Response:
    """A unit of the drill-down: province and commune as an overview, a team with its records (photo links)."""
    bot = _bot(request)
    async with bot.db.session() as session:
        viewer = await _viewer(request, session)
        if viewer is None:
            return _signed_out(request)
        unit = await _unit_for(request, session, viewer, code)
        if isinstance(unit, Response):
            return unit
        if unit.level != Level.TEAM:
            return await _overview_page(request, session, viewer, unit)
        period, period_text, problem = _period(request, bot)
        if period is None:
            return _page(request, "period_error.html", 422, viewer=viewer, unit=unit, problem=problem, ky=period_text)
        report = await service.unit_report(session, unit, period, bot.settings, bot.clock())
        rows = await raw_records(session, unit, period.start, period.end)
        records: dict[int, dict[str, Any]] = {}
        now = bot.clock()

        def link(photo: str | None) -> str:
            return photo_shown(bot.settings, photo, now)

        for rid, day, _parent, _code, _team, person, indicator, qty, measure, note, photo, created in rows:
            day = day if isinstance(day, date) else date.fromisoformat(str(day))
            record = records.setdefault(
                rid,
                {
                    "id": rid,
                    "day": day,
                    "person": person,
                    "items": [],
                    "note": note,
                    "at": created,
                    "photo": link(photo) or photo,
                },
            )
            record["items"].append(f"{indicator}: {qty} {measure}")
        return _page(
            request,
            "team.html",
            viewer=viewer,
            unit=unit,
            report=report,
            period=period,
            records=list(records.values()),
            crumbs=await service.breadcrumb(session, viewer, unit),
            ky=period_text,
        )


@router.get("/tai/{code}")
async def download(request: Request, code: str) -> Response:
    """The same workbook (dang=xlsx) or CSV (dang=csv) as the API, for the unit and period on screen."""
    bot = _bot(request)
    async with bot.db.session() as session:
        viewer = await _viewer(request, session)
        if viewer is None:
            return _signed_out(request)
        unit = await _unit_for(request, session, viewer, code)
        if isinstance(unit, Response):
            return unit
        period, _text, problem = _period(request, bot)
        if period is None:
            return _message(request, "Kỳ không hợp lệ", problem, 422, viewer)
        report = await service.unit_report(session, unit, period, bot.settings, bot.clock())
        name = f"bao-cao-{unit.code}-{period.slug}"
        if request.query_params.get("dang") == "csv":
            return Response(
                render_csv(report).encode("utf-8"),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}.csv"', "Cache-Control": "no-store"},
            )
        rows = stream_raw_records(session, unit, period.start, period.end)
        download = await report_download(report, rows, bot.settings, bot.clock(), name)
    return FileResponse(
        download.path,
        media_type=download.media_type,
        filename=download.filename,
        background=BackgroundTask(download.remove),
        headers={"Cache-Control": "no-store"},
    )


@router.get("/chi-dao", response_class=HTMLResponse)
async def directive_list(request: Request) -> Response:
    """The directives of the viewer's area with delivery and acknowledgement counts."""
    bot = _bot(request)
    async with bot.db.session() as session:
        viewer = await _viewer(request, session)
        if viewer is None:
            return _signed_out(request)
        statuses = await service.latest_directives(session, viewer, limit=50)
        return _page(request, "directives.html", viewer=viewer, statuses=statuses)


@router.get("/chi-dao/moi", response_class=HTMLResponse)
async def compose_form(request: Request) -> Response:
    """The compose form (department staff who signed in from the bot)."""
    bot = _bot(request)
    async with bot.db.session() as session:
        viewer = await _viewer(request, session)
        if viewer is None:
            return _signed_out(request)
        if not viewer.authority:
            return _no_authority(request, viewer)
        return _page(request, "compose.html", viewer=viewer, scope="toàn tỉnh", text="", problem="")


def _no_authority(request: Request, viewer: Viewer) -> HTMLResponse:
    return _message(
        request,
        "Không gửi được chỉ đạo",
        "Chỉ cán bộ Sở đăng nhập bằng /web mới gửi được chỉ đạo (link của máy chủ chỉ để xem).",
        403,
        viewer,
    )


@router.post("/chi-dao/moi", response_class=HTMLResponse)
async def compose(request: Request) -> Response:
    """Resolve the scope and hold the directive (nothing is sent): the preview asks for an explicit confirmation."""
    bot = _bot(request)
    async with bot.db.session() as session:
        viewer = await _viewer(request, session)
        if viewer is None:
            return _signed_out(request)
        if not viewer.authority or viewer.person is None:
            return _no_authority(request, viewer)
        scope_text = text = ""
        try:
            form = await _form(request)
            scope_text, text = form.get("scope", "").strip(), form.get("text", "").strip()
            if not text:
                raise UserError("Thiếu nội dung chỉ đạo. Chưa gửi gì.")
            scope = await directives.parse_scope(session, scope_text, within=viewer.authority)
            held = await directives.hold_directive(
                session, text=text, scope=scope, person=viewer.person, now=bot.clock(), urgent="urgent" in form
            )
            reach = await directive_store.groups_of(session, scope.communes)
        except UserError as exc:
            # The services check before they write: nothing of a refused request is in the session.
            return _page(
                request,
                "compose.html",
                422,
                viewer=viewer,
                scope=scope_text,
                text=text,
                problem=exc.message,
            )
        groups = len({(b.platform, b.chat_id) for _c, bindings in reach for b in bindings})
        return _page(request, "preview.html", viewer=viewer, directive=held, scope=scope, reach=reach, groups=groups)


async def _own_directive(session: AsyncSession, viewer: Viewer, number: int) -> directives.Directive | None:
    directive = await directive_store.get_directive(session, number)
    if directive is None or viewer.person is None or directive.created_by_person_id != viewer.person.id:
        return None
    return directive


async def _act_on_own_directive(
    request: Request,
    number: int,
    act: Callable[[AsyncSession, directives.Directive, Person, datetime], Awaitable[object]],
    missing: str,
    refused_title: str,
) -> Response:
    """Run a chat service (/xacnhan, /thuhoi) on one of the signed-in person's directives, then show it."""
    bot = _bot(request)
    async with bot.db.session() as session:
        viewer = await _viewer(request, session)
        if viewer is None:
            return _signed_out(request)
        directive = await _own_directive(session, viewer, number)
        if directive is None or viewer.person is None:
            return _message(request, "Không có chỉ đạo", missing, 404, viewer)
        try:
            await act(session, directive, viewer.person, bot.clock())
        except UserError as exc:
            # The services check before they write: nothing of a refused request is in the session.
            return _message(request, refused_title, exc.message, 409, viewer)
    return RedirectResponse(f"{PREFIX}/chi-dao/{number}", status_code=303)


@router.post("/chi-dao/{number}/gui")
async def confirm(request: Request, number: int) -> Response:
    """Send a held directive, through the same service as /xacnhan (only its author, within ten minutes)."""
    tz = _bot(request).settings.tz

    async def send(session: AsyncSession, directive: directives.Directive, person: Person, now: datetime) -> object:
        return await directives.confirm_directive(session, directive, person, now, tz)

    return await _act_on_own_directive(request, number, send, f"Bạn không có chỉ đạo số {number} chờ gửi.", "Chưa gửi")


@router.post("/chi-dao/{number}/huy")
async def cancel(request: Request, number: int) -> Response:
    """Cancel a held directive or recall a sent one, through the same service as /thuhoi."""
    return await _act_on_own_directive(
        request, number, directives.recall_directive, f"Bạn không có chỉ đạo số {number}.", "Không huỷ được"
    )


@router.get("/chi-dao/{number}", response_class=HTMLResponse)
async def directive_page(request: Request, number: int) -> Response:
    """One directive's live status per commune: delivered, pending, failed with reasons, acknowledged by whom."""
    bot = _bot(request)
    async with bot.db.session() as session:
        viewer = await _viewer(request, session)
        if viewer is None:
            return _signed_out(request)
        status = await service.visible_directive(session, viewer, number)
        if status is None:
            return _message(
                request, "Không có chỉ đạo", f"Không có chỉ đạo số {number} trong phạm vi của bạn.", 404, viewer
            )
        return _page(request, "directive.html", viewer=viewer, status=status)


@router.get("/static/sort.js")
async def sort_script() -> Response:
    """The one vendored script: sorts a table by a clicked heading (works without it too)."""
    return FileResponse(
        HERE / "static" / "sort.js", media_type="text/javascript", headers={"Cache-Control": "max-age=3600"}
    )
