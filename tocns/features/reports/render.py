"""Rendering a report: a compact Vietnamese text, an Excel workbook (openpyxl) and a PNG chart (matplotlib)."""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from tocns.core.dates import fmt_time
from tocns.core.exports import EXCEL_MAX_ROWS, CsvText, percent
from tocns.core.period import Period, month_of, quarter_of, week_of, year_of
from tocns.core.text import grouped, one_line, vi_sort_key
from tocns.features.reports.store import ChildRow, Report, TaskFigures
from tocns.features.reports.workbook import ReportWorkbook
from tocns.features.targets.render import progress_lines
from tocns.features.targets.service import ProgressRow


def period_of(report: Report) -> Period:
    """The report's period, recognising whole weeks and months for the label."""
    if week_of(report.start) == Period(report.start, report.end, "week"):
        return week_of(report.start)
    for whole in (month_of, quarter_of, year_of):
        if whole(report.start) == Period(report.start, report.end, whole(report.start).kind):
            return whole(report.start)
    return Period(report.start, report.end, "range")


def _pct(value: float) -> str:
    return f"{round(value * 100)}%"


def _rate(part: int, whole: int, noun: str = "") -> str:
    """'3/4 tổ (75%)'; '0/0 tổ (—)' when there is nothing to count (0/0 is not 0%)."""
    counted = f"{_num(part)}/{_num(whole)} {noun}".rstrip()
    return f"{counted} ({_pct(part / whole) if whole else '—'})"


_num = grouped


def _change(value: int) -> str:
    if value > 0:
        return f"▲{_num(value)}"
    if value < 0:
        return f"▼{_num(-value)}"
    return "="


TASK_LIMIT = 10
"""Tasks named per list in a text report; the rest are counted ("và N việc khác")."""


def _task_lines(tasks: TaskFigures) -> list[str]:
    """The task count, each task's assignments done/total, and the overdue tasks with who has not finished."""
    lines = [f"Nhiệm vụ: {tasks.due} việc đến hạn, {tasks.done} hoàn thành, {tasks.overdue} quá hạn"]
    for task_id, title, done, total in tasks.progress[:TASK_LIMIT]:
        lines.append(f"• #{task_id} {one_line(title, 80)}: {done}/{total} xong")
    if len(tasks.progress) > TASK_LIMIT:
        lines.append(f"… và {len(tasks.progress) - TASK_LIMIT} việc khác.")
    if tasks.overdue_tasks:
        lines.append(f"Việc quá hạn ({len(tasks.overdue_tasks)}):")
        for task_id, title, due, pending in tasks.overdue_tasks[:TASK_LIMIT]:
            names = ", ".join(pending[:5]) + (f" và {len(pending) - 5} tổ/người khác" if len(pending) > 5 else "")
            lines.append(f"• #{task_id} {one_line(title, 80)} (hạn {due}), chưa xong: {names}")
        if len(tasks.overdue_tasks) > TASK_LIMIT:
            lines.append(f"… và {len(tasks.overdue_tasks) - TASK_LIMIT} việc quá hạn khác.")
    return lines


RANKED = 5
"""A province's text shows its best and worst RANKED communes; the rest are counted, the workbook lists them all."""


def _top_figures(by_indicator: dict[str, int], units: dict[str, str]) -> str:
    # Per indicator, never one sum: people, files and training sessions do not add up.
    top = sorted(((-q, code) for code, q in by_indicator.items() if q))[:3]
    figures = ", ".join(f"{code} {_num(-q)} {units.get(code, '')}".rstrip() for q, code in top)
    return f" — {figures}" if figures else ""


def _names_line(names: list[str], shown: int = 3) -> str:
    head = ", ".join(names[:shown])
    return f"{head}, …" if len(names) > shown else head


def _child_line(child: ChildRow) -> str:
    timely = f", đúng hạn {_pct(child.timeliness)}" if child.timeliness is not None else ""
    return f"• {child.name}: {_rate(child.reporting_teams, child.teams, 'tổ')}, {_num(child.records)} lượt ghi{timely}"


def _units_section(report: Report, ranked: int) -> list[str]:
    """Per child unit: all when few, else the best and worst `ranked` by completeness and the count of the rest."""
    with_teams = [c for c in report.children if c.teams]
    empty = [c.name for c in report.children if not c.teams]
    lines: list[str] = []
    if with_teams:
        order = sorted(with_teams, key=lambda c: (-c.completeness, -c.records, vi_sort_key(c.name)))
        if not any(c.reporting_teams for c in with_teams):
            lines += ["", f"Chưa đơn vị nào có tổ báo cáo ({len(with_teams)} đơn vị có tổ)."]
        elif len(order) <= 2 * ranked:
            lines += ["", "Theo đơn vị: tổ báo cáo, lượt ghi, tỷ lệ đúng hạn (cao đến thấp)"]
            lines += [_child_line(c) for c in order]
        else:
            best = order[:ranked]
            worst = order[-ranked:]
            lines += ["", f"{ranked} đơn vị báo cáo đầy đủ nhất:"] + [_child_line(c) for c in best]
            lines += ["", f"{ranked} đơn vị báo cáo ít nhất:"] + [_child_line(c) for c in reversed(worst)]
            rest = len(order) - 2 * ranked
            lines.append(f"… và {rest} đơn vị khác (xem trang Theo đơn vị trong tệp Excel).")
    if empty:
        lines += ["", f"Chưa có tổ: {len(empty)} đơn vị ({_names_line(empty)})."]
    return lines


def render_text(report: Report, tz: ZoneInfo, silent_limit: int = 10, ranked: int = RANKED) -> str:
    """The report as a compact Vietnamese text (split it with core.text.split_chunks for the platform's limit)."""
    period = period_of(report)
    lines = [
        f"📊 BÁO CÁO {report.unit_name.upper()} (mã {report.unit_code})",
        f"Kỳ: {period.label} · so với {period_of_previous(report).label}",
        "",
        "Chỉ tiêu: kỳ này (kỳ trước, thay đổi)",
    ]
    lines += _totals_lines(report)
    lines += [
        "",
        f"Tổ có báo cáo: {_rate(report.reporting_teams, report.teams)}",
        f"Ghi đúng hạn (≤2 ngày): {_rate(report.timely_records, report.records, 'lượt ghi')}",
    ]
    if report.tasks is not None:
        lines += _task_lines(report.tasks)
    if report.progress is not None:
        # A commune's leaders hear every team behind pace; a province's text the furthest behind (all in Excel).
        lines += progress_lines(report.progress, every_name=report.unit_level == "commune", limit=ranked)
    if report.unit_level == "commune":
        lines += _teams_section(report)
    elif report.children:
        lines += _units_section(report, ranked)
    lines += _silent_lines(report, silent_limit)
    lines += ["", f"Lập lúc {fmt_time(report.generated_at, tz)}"]
    return "\n".join(lines)


def _totals_lines(report: Report) -> list[str]:
    """One line per indicator with a figure now or before: this period, the previous one and the change."""
    shown = [t for t in report.totals if t.quantity or t.previous]
    lines = [
        f"• {total.name}: {_num(total.quantity)} {total.unit} ({_num(total.previous)}, {_change(total.change)})"
        for total in shown
    ]
    return lines or ["• Chưa có kết quả nào được ghi trong kỳ."]


def _teams_section(report: Report) -> list[str]:
    """A commune's teams that reported, with their records and top figures (the silent ones are named below)."""
    units = {t.code: t.unit for t in report.totals}
    reporting = [c for c in report.children if c.reporting_teams]
    if not reporting:
        return []
    lines = ["", "Theo tổ: lượt ghi, chỉ tiêu nhiều nhất"]
    for child in reporting:
        lines.append(f"• {child.name}: {child.records} lượt ghi{_top_figures(child.by_indicator, units)}")
    return lines


def _silent_lines(report: Report, silent_limit: int) -> list[str]:
    """The teams that have not reported, or a word of praise when every team has; nothing for a unit with none."""
    silent = report.silent_teams
    if not silent:
        return ["", "Tất cả các tổ đều đã báo cáo. 👏"] if report.teams else []
    # A commune's leader needs every name; a province's officer gets them all in the workbook.
    limit = len(silent) if report.unit_level == "commune" else silent_limit
    lines = ["", f"Tổ chưa báo cáo ({len(silent)}):"]
    for team in silent[:limit]:
        where = f" - {team.parent_name}" if team.parent_name and report.unit_level != "commune" else ""
        lines.append(f"• {team.name}{where}")
    if len(silent) > limit:
        lines.append(f"… và {len(silent) - limit} tổ khác (xem trang Tổ chưa báo cáo trong tệp Excel).")
    return lines


def period_of_previous(report: Report) -> Period:
    """The previous period of the report, labelled like the current one."""
    current = period_of(report)
    if current.kind in ("week", "month", "quarter", "year"):
        return current.previous()
    return Period(report.previous_start, report.previous_end, "range")


# ---------------------------------------------------------------- CSV


_COUNT_HEADINGS = [
    "Số tổ",
    "Tổ có báo cáo",
    "Tỷ lệ tổ báo cáo (%)",
    "Lượt ghi",
    "Lượt ghi đúng hạn",
    "Tỷ lệ đúng hạn (%)",
]
_PROGRESS_HEADINGS = [
    "Mã đơn vị",
    "Đơn vị",
    "Mã chỉ tiêu",
    "Tháng (0 = cả năm)",
    "Mục tiêu",
    "Đã đạt",
    "Tỷ lệ đạt (%)",
    "Cần đạt theo tiến độ",
    "Đúng tiến độ",
]
_SILENT_HEADINGS = ["Mã đơn vị cấp trên", "Tổ chưa báo cáo: đơn vị cấp trên", "Mã tổ", "Tổ", "Tổ trưởng"]


def _counts(teams: int, reporting: int, records: int, timely: int) -> list[Any]:
    """The six figures under _COUNT_HEADINGS: teams, reporting teams and records with their rates."""
    return [teams, reporting, percent(reporting, teams), records, timely, percent(timely, records)]


def _progress_row(p: ProgressRow) -> list[Any]:
    """One target-progress row under _PROGRESS_HEADINGS."""
    on_track = "có" if p.on_track else "không"
    return [
        p.unit_code,
        p.unit_name,
        p.indicator,
        p.month,
        p.target,
        p.done,
        percent(p.done, p.target),
        p.expected,
        on_track,
    ]


def _section(out: CsvText, headings: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A blank line, a heading row, then the rows."""
    out.row()
    out.row(headings)
    out.rows(rows)


def render_csv(report: Report) -> str:
    """The report as CSV with a BOM and Vietnamese headings: the CLI and the API serve these same bytes."""
    out = CsvText()
    out.row(["Đơn vị", "Mã", "Từ ngày", "Đến ngày"])
    out.row([report.unit_name, report.unit_code, report.start, report.end])
    _section(
        out,
        ["Mã chỉ tiêu", "Chỉ tiêu", "Đơn vị tính", "Kỳ này", "Kỳ trước", "Thay đổi"],
        ([t.code, t.name, t.unit, t.quantity, t.previous, t.change] for t in report.totals),
    )
    r = report
    _section(out, _COUNT_HEADINGS, [_counts(r.teams, r.reporting_teams, r.records, r.timely_records)])
    codes = [t.code for t in report.totals]
    if report.children:
        _section(
            out,
            ["Mã đơn vị", "Đơn vị", *_COUNT_HEADINGS, *(t.name for t in report.totals)],
            (
                [
                    c.code,
                    c.name,
                    *_counts(c.teams, c.reporting_teams, c.records, c.timely_records),
                    *(c.by_indicator.get(k, 0) for k in codes),
                ]
                for c in report.children
            ),
        )
    if report.progress is not None:
        _section(
            out,
            _PROGRESS_HEADINGS,
            (_progress_row(p) for p in report.progress.rows),
        )
    if report.silent_teams:
        _section(
            out,
            _SILENT_HEADINGS,
            ([t.parent_code, t.parent_name, t.code, t.name, t.leader] for t in report.silent_teams),
        )
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


# One line for the chats and the CLI when the `charts` extra (matplotlib) is not installed.
CHARTS_NEED_EXTRA = 'Biểu đồ PNG cần gói bổ sung: pip install "tocns[charts]".'


class ChartsUnavailable(RuntimeError):
    """The PNG chart cannot be drawn: matplotlib (the `charts` extra) is not installed."""


def charts_available() -> bool:
    """Whether matplotlib is installed, without importing it (importing costs about half a second)."""
    return importlib.util.find_spec("matplotlib") is not None


def render_png(report: Report) -> bytes:
    """The report chart for a phone (at most 1080×1920 px, see chart.py); ChartsUnavailable without matplotlib."""
    if not charts_available():
        # A trial install leaves out the 170 MB matplotlib stack; text and Excel reports still work.
        raise ChartsUnavailable(CHARTS_NEED_EXTRA)
    from tocns.features.reports.chart import render_chart

    return render_chart(report)
