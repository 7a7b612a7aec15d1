"""Rendering a report: a compact Vietnamese text, an Excel workbook (openpyxl) and a PNG chart (matplotlib)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.reports.csvout import CsvText, percent
from bot.reports.period import Period, month_of, week_of
from bot.reports.workbook import EXCEL_MAX_ROWS, ReportWorkbook
from storage.reports import Report

LEVEL_LABELS = {"province": "Tỉnh", "district": "Huyện", "commune": "Xã/phường", "team": "Tổ"}


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
    """The report as a compact Vietnamese text (split it with split_message for the platform's limit)."""
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


def split_message(text: str, limit: int) -> list[str]:
    """Split text at line breaks into messages of at most `limit` characters (a long line is cut)."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        parts.append(current)
    return [p.strip("\n") for p in parts if p.strip()]


# ---------------------------------------------------------------- CSV


def render_csv(report: Report) -> str:
    """The report as CSV with a BOM and Vietnamese headings: the CLI and the API serve these same bytes."""
    out = CsvText()
    out.row(["Đơn vị", "Mã", "Từ ngày", "Đến ngày"])
    out.row([report.unit_name, report.unit_code, report.start, report.end])
    out.row()
    out.row(["Mã chỉ tiêu", "Chỉ tiêu", "Đơn vị tính", "Kỳ này", "Kỳ trước", "Thay đổi"])
    out.rows([t.code, t.name, t.unit, t.quantity, t.previous, t.change] for t in report.totals)
    out.row()
    out.row(
        [
            "Số tổ",
            "Tổ có báo cáo",
            "Tỷ lệ tổ báo cáo (%)",
            "Lượt ghi",
            "Lượt ghi đúng hạn",
            "Tỷ lệ đúng hạn (%)",
        ]
    )
    out.row(
        [
            report.teams,
            report.reporting_teams,
            percent(report.reporting_teams, report.teams),
            report.records,
            report.timely_records,
            percent(report.timely_records, report.records),
        ]
    )
    codes = [t.code for t in report.totals]
    if report.children:
        out.row()
        out.row(
            [
                "Mã đơn vị",
                "Đơn vị",
                "Số tổ",
                "Tổ có báo cáo",
                "Tỷ lệ tổ báo cáo (%)",
                "Lượt ghi",
                "Lượt ghi đúng hạn",
                "Tỷ lệ đúng hạn (%)",
                *(t.name for t in report.totals),
            ]
        )
        out.rows(
            [
                c.code,
                c.name,
                c.teams,
                c.reporting_teams,
                percent(c.reporting_teams, c.teams),
                c.records,
                c.timely_records,
                percent(c.timely_records, c.records),
                *(c.by_indicator.get(k, 0) for k in codes),
            ]
            for c in report.children
        )
    if report.silent_teams:
        out.row()
        out.row(["Mã đơn vị cấp trên", "Tổ chưa báo cáo: đơn vị cấp trên", "Mã tổ", "Tổ", "Tổ trưởng"])
        out.rows([t.parent_code, t.parent_name, t.code, t.name, t.leader] for t in report.silent_teams)
    return out.text()


# ---------------------------------------------------------------- Excel


def render_xlsx(report: Report, raw: Iterable[Sequence[Any]], tz: ZoneInfo, max_rows: int = EXCEL_MAX_ROWS) -> bytes:
    """The report workbook in memory (small reports, tests); large exports stream with workbook.write_workbook."""
    book = ReportWorkbook(report, tz, max_rows=max_rows)
    book.add_raw(raw)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- PNG chart


def render_png(report: Report) -> bytes:
    """A chart: records logged per child unit and reporting completeness per child unit."""
    import matplotlib

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
