"""Rendering a report: a compact Vietnamese text, an Excel workbook (openpyxl) and a PNG chart (matplotlib)."""

from __future__ import annotations

import csv
import importlib.util
import io
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tocns.core.dates import fmt_date
from tocns.features.reports.period import Period, month_of, week_of
from tocns.features.reports.store import Report


def period_of(report: Report) -> Period:
    """The report's period, recognising whole weeks and months for the label."""
    if week_of(report.start) == Period(report.start, report.end, "week"):
        return week_of(report.start)
    if month_of(report.start) == Period(report.start, report.end, "month"):
        return month_of(report.start)
    return Period(report.start, report.end, "range")


def _pct(value: float) -> str:
    return f"{round(value * 100)}%"


def _num(value: int) -> str:
    # Vietnamese groups thousands with dots.
    return f"{value:,}".replace(",", ".")


def _change(value: int) -> str:
    if value > 0:
        return f"▲{_num(value)}"
    if value < 0:
        return f"▼{_num(-value)}"
    return "="


def render_text(report: Report, tz: ZoneInfo, silent_limit: int = 30) -> str:
    """The report as a compact Vietnamese text (split it with core.text.split_chunks for the platform's limit)."""
    period = period_of(report)
    lines = [
        f"📊 BÁO CÁO {report.unit_name.upper()} (mã {report.unit_code})",
        f"Kỳ: {period.label} · so với {period_of_previous(report).label}",
        "",
        "Chỉ tiêu: kỳ này (kỳ trước, thay đổi)",
    ]
    shown = [t for t in report.totals if t.quantity or t.previous]
    for total in shown:
        lines.append(
            f"• {total.name}: {_num(total.quantity)} {total.unit} ({_num(total.previous)}, {_change(total.change)})"
        )
    if not shown:
        lines.append("• Chưa có kết quả nào được ghi trong kỳ.")
    lines += [
        "",
        f"Tổ có báo cáo: {report.reporting_teams}/{report.teams} ({_pct(report.completeness)})",
        f"Ghi đúng hạn (≤2 ngày): {report.timely_records}/{report.records} lượt ghi ({_pct(report.timeliness)})",
    ]
    if report.tasks is not None:
        lines.append(
            f"Nhiệm vụ: {report.tasks.due} đến hạn, {report.tasks.done} hoàn thành, {report.tasks.overdue} quá hạn"
        )
    if report.children:
        units = {t.code: t.unit for t in report.totals}
        if report.unit_level == "commune":
            lines += ["", "Theo tổ: lượt ghi, chỉ tiêu nhiều nhất"]
        else:
            lines += ["", "Theo đơn vị: tổ báo cáo, lượt ghi, chỉ tiêu nhiều nhất"]
        for child in report.children:
            # Per indicator, never one sum: people, files and training sessions do not add up.
            top = sorted(((q, code) for code, q in child.by_indicator.items() if q), reverse=True)[:3]
            figures = ", ".join(f"{code} {_num(q)} {units.get(code, '')}".rstrip() for q, code in top)
            detail = f" — {figures}" if figures else ""
            if report.unit_level == "commune":
                status = f"{child.records} lượt ghi{detail}" if child.reporting_teams else "chưa báo cáo"
                lines.append(f"• {child.name}: {status}")
            else:
                lines.append(
                    f"• {child.name}: {child.reporting_teams}/{child.teams} tổ ({_pct(child.completeness)}), "
                    f"{child.records} lượt ghi{detail}"
                )
    if report.silent_teams:
        lines += ["", f"Tổ chưa báo cáo ({len(report.silent_teams)}):"]
        for team in report.silent_teams[:silent_limit]:
            where = f" - {team.parent_name}" if team.parent_name and report.unit_level != "commune" else ""
            lines.append(f"• {team.name}{where}")
        if len(report.silent_teams) > silent_limit:
            lines.append(f"… và {len(report.silent_teams) - silent_limit} tổ khác (xem tệp Excel).")
    elif report.teams:
        lines += ["", "Tất cả các tổ đều đã báo cáo. 👏"]
    lines += ["", f"Lập lúc {report.generated_at.astimezone(tz):%H:%M %d/%m/%Y}"]
    return "\n".join(lines)


def period_of_previous(report: Report) -> Period:
    """The previous period of the report, labelled like the current one."""
    current = period_of(report)
    if current.kind in ("week", "month"):
        return current.previous()
    return Period(report.previous_start, report.previous_end, "range")


# ---------------------------------------------------------------- CSV


def render_csv(report: Report) -> str:
    """Indicator totals and per-child figures as CSV (UTF-8, Vietnamese headings)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Đơn vị", "Mã", "Từ ngày", "Đến ngày"])
    writer.writerow([report.unit_name, report.unit_code, f"{report.start:%d/%m/%Y}", f"{report.end:%d/%m/%Y}"])
    writer.writerow([])
    writer.writerow(["Mã chỉ tiêu", "Chỉ tiêu", "Đơn vị tính", "Kỳ này", "Kỳ trước", "Thay đổi"])
    for t in report.totals:
        writer.writerow([t.code, t.name, t.unit, t.quantity, t.previous, t.change])
    writer.writerow([])
    codes = [t.code for t in report.totals]
    writer.writerow(["Mã đơn vị", "Đơn vị", "Số tổ", "Tổ báo cáo", "Lượt ghi", *codes])
    for c in report.children:
        writer.writerow(
            [c.code, c.name, c.teams, c.reporting_teams, c.records, *(c.by_indicator.get(k, 0) for k in codes)]
        )
    return out.getvalue()


# ---------------------------------------------------------------- Excel


def render_xlsx(report: Report, raw: Sequence[Sequence[Any]], tz: ZoneInfo) -> bytes:
    """A workbook: summary sheet, one sheet per child unit, the raw records; Vietnamese headings."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    bold = Font(bold=True)
    wb = Workbook(write_only=False)
    ws = wb.active
    ws.title = "Tổng hợp"
    period = period_of(report)
    generated = report.generated_at.astimezone(tz)
    ws.append([f"Báo cáo {report.unit_name} (mã {report.unit_code})"])
    ws.append(["Kỳ báo cáo", period.label])
    ws.append(["Lập lúc", f"{generated:%H:%M %d/%m/%Y}"])
    ws.append(["Tổ có báo cáo", report.reporting_teams, "trên", report.teams, _pct(report.completeness)])
    ws.append(["Lượt ghi đúng hạn", report.timely_records, "trên", report.records, _pct(report.timeliness)])
    if report.tasks is not None:
        ws.append(
            ["Nhiệm vụ đến hạn / hoàn thành / quá hạn", report.tasks.due, report.tasks.done, report.tasks.overdue]
        )
    ws.append([])
    ws.append(["Mã chỉ tiêu", "Chỉ tiêu", "Đơn vị tính", "Kỳ này", "Kỳ trước", "Thay đổi"])
    header_row = ws.max_row
    for t in report.totals:
        ws.append([t.code, t.name, t.unit, t.quantity, t.previous, t.change])
    # No grand total row: the indicators count different things (people, files, sessions).
    for cell in ws[header_row]:
        cell.font = bold
    ws["A1"].font = Font(bold=True, size=14)
    codes = [t.code for t in report.totals]
    names = [t.name for t in report.totals]
    if report.children:
        ws.append([])
        ws.append(["Mã đơn vị", "Đơn vị", "Số tổ", "Tổ báo cáo", "Tỷ lệ báo cáo", "Lượt ghi", *names])
        for cell in ws[ws.max_row]:
            cell.font = bold
        for c in report.children:
            ws.append(
                [c.code, c.name, c.teams, c.reporting_teams, _pct(c.completeness), c.records]
                + [c.by_indicator.get(k, 0) for k in codes]
            )
    ws.column_dimensions["B"].width = 34

    # One sheet per child unit: its indicator figures (raw rows are filtered by child on the raw sheet).
    used: set[str] = {"Tổng hợp", "Dữ liệu gốc"}
    for c in report.children:
        title = _sheet_title(c.name, used)
        sheet = wb.create_sheet(title)
        sheet.append([f"{c.name} (mã {c.code})", period.label])
        sheet.append(["Số tổ", c.teams, "Tổ báo cáo", c.reporting_teams, "Lượt ghi", c.records])
        sheet.append([])
        sheet.append(["Chỉ tiêu", "Đơn vị tính", "Kỳ này"])
        for t in report.totals:
            sheet.append([t.name, t.unit, c.by_indicator.get(t.code, 0)])
        sheet.column_dimensions["A"].width = 34

    raw_ws = wb.create_sheet("Dữ liệu gốc")
    raw_ws.append(["Ngày hoạt động", "Đơn vị cấp trên", "Mã tổ", "Tổ", "Người ghi", "Chỉ tiêu", "Số lượng", "Ghi lúc"])
    for row in raw:
        day, parent, code, team, person, indicator, qty, created = row
        day_text = (
            fmt_date(day if isinstance(day, date) else date.fromisoformat(str(day)))
        )
        raw_ws.append([day_text, parent, code, team, person, indicator, qty, _local_text(created, tz)])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _local_text(value: Any, tz: ZoneInfo) -> str:
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return f"{value.astimezone(tz):%d/%m/%Y %H:%M}"
    return str(value)


def _sheet_title(name: str, used: set[str]) -> str:
    # Excel sheet names: at most 31 characters, none of []:*?/\ and unique.
    clean = "".join("-" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "Đơn vị"
    title, n = clean, 2
    while title in used:
        suffix = f" ({n})"
        title = clean[: 31 - len(suffix)] + suffix
        n += 1
    used.add(title)
    return title


# ---------------------------------------------------------------- PNG chart


# One line for the chats and the CLI when the `charts` extra (matplotlib) is not installed.
CHARTS_NEED_EXTRA = 'Biểu đồ PNG cần gói bổ sung: pip install "tocns[charts]".'


class ChartsUnavailable(RuntimeError):
    """The PNG chart cannot be drawn: matplotlib (the `charts` extra) is not installed."""


def charts_available() -> bool:
    """Whether matplotlib is installed, without importing it (importing costs about half a second)."""
    return importlib.util.find_spec("matplotlib") is not None


def render_png(report: Report) -> bytes:
    """A chart: records logged per child unit and reporting completeness per child unit."""
    try:
        import matplotlib
    except ImportError as exc:
        # A trial install leaves out the 170 MB matplotlib stack; text and Excel reports still work.
        raise ChartsUnavailable(CHARTS_NEED_EXTRA) from exc

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = report.children or []
    names = [c.name for c in rows] or [report.unit_name]
    # Records, not summed quantities: one bar must not add people to files to training sessions.
    quantities = [c.records for c in rows] or [report.records]
    completeness = [c.completeness * 100 for c in rows] or [report.completeness * 100]
    height = max(4.0, 0.32 * len(names) + 1.5)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, height), sharey=True)
    positions = list(range(len(names)))
    ax1.barh(positions, quantities, color="#2b6cb0")
    ax1.set_yticks(positions, labels=names, fontsize=8)
    ax1.invert_yaxis()
    ax1.set_title("Lượt ghi theo đơn vị")
    ax2.barh(positions, completeness, color="#38a169")
    ax2.set_xlim(0, 100)
    ax2.set_title("Tỷ lệ tổ báo cáo (%)")
    fig.suptitle(f"{report.unit_name} · {period_of(report).label}")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def week_key(day: date) -> str:
    """ISO week key of a day, e.g. '2026-W47' (for dedupe keys and file names)."""
    monday = day - timedelta(days=day.weekday())
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"
