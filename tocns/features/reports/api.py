"""The read-only reports API under /api/v1 (bearer API tokens per department)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from tocns.core.period import PeriodError, parse_cli_period
from tocns.features.apitokens.auth import require_token
from tocns.features.org import store as org_store
from tocns.features.reports.files import report_download
from tocns.features.reports.render import render_csv
from tocns.features.reports.service import unit_report
from tocns.features.reports.store import stream_raw_records

if TYPE_CHECKING:
    from tocns.app import BotApp  # the web app's state carries it; imported for types only (no cycle)

router = APIRouter(prefix="/api/v1", tags=["reports"])
REPORT_COMMAND = "baocao"
"""The chat command whose roles the report route checks (one authority rule for chat and API)."""


class ReportFormat(StrEnum):
    """Formats the report endpoint serves."""

    json = "json"
    csv = "csv"
    xlsx = "xlsx"


@router.get("/reports/{org_code}", response_model=None)
async def get_report(
    request: Request,
    org_code: str,
    period: str = Query(
        "tuan",
        description="the /baocao period grammar: tuần này, tuần trước, tháng này, tháng trước, tháng 10, "
        "tháng 10/2026, 2026-W47, 2026-11, 01/11-15/11, 01/11/2026-15/11/2026, YYYY-MM-DD..YYYY-MM-DD; "
        "a reversed or not yet started period is 422 with the same Vietnamese reason as the chat",
    ),
    format: ReportFormat = Query(ReportFormat.json, description="json, csv or xlsx"),
    authorization: str = Header("", description="Bearer <API token> from `tocns apitoken create`"),
) -> dict[str, Any] | Response:
    """The report of a unit (the token's unit or one below it) for a period, as JSON, CSV or XLSX."""
    bot: BotApp = request.app.state.bot
    now = bot.clock()
    async with bot.db.session() as session:
        _token, allowed_unit = await require_token(session, authorization, now, bot.registry, REPORT_COMMAND)
        unit = await org_store.get_unit_by_code(session, org_code)
        if unit is None:
            raise HTTPException(404, f"Không có đơn vị mã {org_code!r}.")
        if not unit.path.startswith(allowed_unit.path):
            raise HTTPException(403, f"Token này chỉ đọc được báo cáo của {allowed_unit.name} và đơn vị trực thuộc.")
        try:
            chosen = parse_cli_period(period, now.astimezone(bot.settings.tz).date())
        except PeriodError as exc:
            raise HTTPException(422, str(exc)) from exc
        report = await unit_report(session, unit, chosen, bot.settings, now)
        if format == ReportFormat.json:
            return report.to_dict()
        name = f"bao-cao-{unit.code}-{chosen.slug}"
        if format == ReportFormat.csv:
            return Response(
                render_csv(report).encode("utf-8"),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
            )
        # Streamed to a temporary file and served from disk: a province's year never sits in memory. Above
        # REPORT_RAW_SHEET_MAX_ROWS raw rows, a zip of the workbook and its raw data's CSV zips (docs/reports.md).
        rows = stream_raw_records(session, unit, chosen.start, chosen.end)
        download = await report_download(report, rows, bot.settings, now, name)
        return FileResponse(
            download.path,
            media_type=download.media_type,
            filename=download.filename,
            background=BackgroundTask(download.remove),
        )
