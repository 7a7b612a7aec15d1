"""Building what the jobs send: report files written under FILES_DIR/reports and the outbox attachment entries."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.config import Settings
from tocns.core.clock import utcnow
from tocns.features.activity.evidence import shown_by
from tocns.features.org.models import OrgUnit
from tocns.features.reports.period import Period
from tocns.features.reports.render import ChartsUnavailable, render_png
from tocns.features.reports.store import Report, stream_raw_records
from tocns.features.reports.workbook import write_workbook

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportFiles:
    """The chart and workbook of one report, written to disk (no chart without the `charts` extra)."""

    png_name: str | None
    xlsx_name: str
    root: Path

    def attachment(self, name: str, mime: str) -> dict[str, str]:
        """An outbox attachment entry for one of the files."""
        return {"filename": Path(name).name, "mime_type": mime, "path": str(self.root / name)}

    @property
    def png(self) -> dict[str, str] | None:
        """The chart as an outbox attachment, or None when matplotlib is not installed."""
        return None if self.png_name is None else self.attachment(self.png_name, "image/png")

    @property
    def xlsx(self) -> dict[str, str]:
        """The workbook as an outbox attachment."""
        return self.attachment(self.xlsx_name, XLSX_MIME)


async def write_report_files(
    session: AsyncSession, settings: Settings, unit: OrgUnit, period: Period, report: Report
) -> ReportFiles:
    """Render the chart (when matplotlib is installed) and the workbook of a report into FILES_DIR/reports/<period>/."""
    root = Path(settings.files_dir).resolve() / "reports"
    folder = root / period.slug
    folder.mkdir(parents=True, exist_ok=True)
    base = f"bao-cao-{unit.code}-{period.slug}"
    png_name: str | None = None
    xlsx_name = f"{period.slug}/{base}.xlsx"
    try:
        chart = render_png(report)
    except ChartsUnavailable as exc:
        log.warning("report chart skipped: %s", exc)
    else:
        png_name = f"{period.slug}/{base}.png"
        (root / png_name).write_bytes(chart)
    # Streamed into a temporary name, then renamed: a reader never sees half a workbook.
    partial = root / f"{xlsx_name}.part"
    raw = stream_raw_records(session, unit, period.start, period.end)
    await write_workbook(report, raw, settings.tz, partial, photo=shown_by(settings, utcnow()))
    partial.replace(root / xlsx_name)
    return ReportFiles(png_name=png_name, xlsx_name=xlsx_name, root=root)
