"""The report chart, sized for a phone (1080×1920 px at most, whatever the province's size).

Top panel: each indicator this period against the previous one, each pair scaled to itself (the units differ, so one
shared axis would hide the small ones) with the real figures written on the bars. Bottom panel: reporting
completeness per child unit, the best and worst CHART_RANKED with the median of all (a province), or every team's
records (a commune). An empty panel says "chưa có dữ liệu" instead of drawing an axis around nothing.
"""

from __future__ import annotations

import io
import statistics

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from tocns.core.text import vi_sort_key
from tocns.features.reports.render import _num, period_of, period_of_previous
from tocns.features.reports.store import ChildRow, Report

WIDTH_PX, HEIGHT_PX, DPI = 1080, 1920, 150
CHART_RANKED = 6
"""Best and worst units shown on the chart; the workbook has them all."""
LABEL_CHARS = 26
MIN_SLOTS = 4
"""Rows a panel has room for at least: two indicators or three communes get thin bars, not slabs."""

CURRENT, PREVIOUS, GOOD, BAD, MEDIAN = "#2b6cb0", "#a0aec0", "#38a169", "#dd6b20", "#2d3748"
EMPTY = "chưa có dữ liệu"


def _short(name: str, limit: int = LABEL_CHARS) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


def _rows_axis(ax: Axes, count: int) -> None:
    """Top-down rows with room for at least MIN_SLOTS of them."""
    ax.set_ylim(max(count, MIN_SLOTS) - 0.5, -0.5)


def _empty(ax: Axes, title: str) -> None:
    ax.set_title(title, loc="left", fontsize=13, fontweight="bold")
    ax.text(0.5, 0.5, EMPTY, ha="center", va="center", fontsize=16, color="#718096", transform=ax.transAxes)
    ax.set_axis_off()


def _indicators(ax: Axes, report: Report) -> None:
    title = "Kết quả theo chỉ tiêu"
    shown = [t for t in report.totals if t.quantity or t.previous]
    if not shown:
        _empty(ax, title)
        return
    current_label = period_of(report).label
    previous_label = period_of_previous(report).label
    rows = list(range(len(shown)))
    height = 0.38
    for row, total in zip(rows, shown, strict=True):
        top = max(total.quantity, total.previous) or 1
        for offset, value, color in ((-height / 2, total.quantity, CURRENT), (height / 2, total.previous, PREVIOUS)):
            ax.barh(row + offset, value / top, height=height, color=color)
            ax.text(
                value / top + 0.02,
                row + offset,
                f"{_num(value)} {total.unit}",
                va="center",
                fontsize=8.5,
                color="#1a202c",
            )
    ax.set_yticks(rows, labels=[_short(t.name) for t in shown], fontsize=9)
    _rows_axis(ax, len(rows))
    ax.set_xlim(0, 1.6)  # room for the value labels right of the longest bar
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title(title, loc="left", fontsize=13, fontweight="bold")
    ax.legend(
        handles=[
            Patch(color=CURRENT, label=f"Kỳ này ({current_label})"),
            Patch(color=PREVIOUS, label=f"Kỳ trước ({previous_label})"),
        ],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.04),
        ncol=1,
        fontsize=8.5,
        frameon=False,
    )


def _ranked(children: list[ChildRow], ranked: int) -> tuple[list[ChildRow], list[ChildRow], int]:
    order = sorted(children, key=lambda c: (-c.completeness, -c.records, vi_sort_key(c.name)))
    if len(order) <= 2 * ranked:
        return order, [], 0
    return order[:ranked], order[-ranked:], len(order) - 2 * ranked


def _completeness(ax: Axes, report: Report, ranked: int) -> None:
    with_teams = [c for c in report.children if c.teams]
    title = "Tỷ lệ tổ báo cáo theo đơn vị"
    if not with_teams:
        _empty(ax, title)
        return
    best, worst, rest = _ranked(with_teams, ranked)
    labels: list[str] = []
    values: list[float] = []
    colors: list[str] = []
    notes: list[str] = []
    for group, color in ((best, GOOD), (worst, BAD)):
        if group is worst and worst:
            labels.append(f"… {rest} đơn vị khác")
            values.append(0.0)
            colors.append("white")
            notes.append("")
        for child in group:
            labels.append(_short(child.name))
            values.append(child.completeness * 100)
            colors.append(color if worst else CURRENT)
            notes.append(f"{round(child.completeness * 100)}% ({child.reporting_teams}/{child.teams})")
    rows = list(range(len(labels)))
    ax.barh(rows, values, color=colors, height=0.7)
    for row, value, note in zip(rows, values, notes, strict=True):
        if note:
            ax.text(value + 1.5, row, note, va="center", fontsize=8.5)
    median = statistics.median(c.completeness * 100 for c in with_teams)
    ax.axvline(median, color=MEDIAN, linestyle="--", linewidth=1.2)
    ax.set_yticks(rows, labels=labels, fontsize=9)
    _rows_axis(ax, len(rows))
    ax.set_xlim(0, 135)
    ax.set_xticks([0, 25, 50, 75, 100], labels=["0%", "25%", "50%", "75%", "100%"], fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    heading = f"{len(best)} cao nhất, {len(worst)} thấp nhất" if worst else f"{len(with_teams)} đơn vị có tổ"
    without = len(report.children) - len(with_teams)
    if without:
        heading += f", {without} chưa có tổ"
    ax.set_title(
        f"{title}\n{heading}\ntrung vị {round(median)}% (đường đứt)", loc="left", fontsize=12, fontweight="bold"
    )


def _teams(ax: Axes, report: Report, ranked: int) -> None:
    """A commune: records per team, the teams that logged most and those that logged least (silent ones at 0)."""
    title = "Lượt ghi theo tổ"
    if not report.children:
        _empty(ax, title)
        return
    order = sorted(report.children, key=lambda c: (-c.records, vi_sort_key(c.name)))
    if len(order) > 2 * ranked:
        shown = order[:ranked] + order[-ranked:]
        gap: int | None = ranked
    else:
        shown, gap = order, None
    labels = [_short(c.name) for c in shown]
    values = [c.records for c in shown]
    if gap is not None:
        labels.insert(gap, f"… {len(order) - 2 * ranked} tổ khác")
        values.insert(gap, 0)
    rows = list(range(len(labels)))
    top = max(values) or 1
    colors = [CURRENT if v else BAD for v in values]
    if gap is not None:
        colors[gap] = "white"
    ax.barh(rows, values, color=colors, height=0.7)
    for row, value, label in zip(rows, values, labels, strict=True):
        if not label.startswith("… "):
            ax.text(value + top * 0.02, row, f"{value} lượt" if value else "chưa báo cáo", va="center", fontsize=8.5)
    ax.set_yticks(rows, labels=labels, fontsize=9)
    _rows_axis(ax, len(rows))
    ax.set_xlim(0, top * 1.45)
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    reporting = sum(1 for c in report.children if c.records)
    ax.set_title(
        f"{title}\n{reporting}/{len(report.children)} tổ đã báo cáo", loc="left", fontsize=12, fontweight="bold"
    )


def build_chart(report: Report, ranked: int = CHART_RANKED) -> Figure:
    """The chart as a matplotlib Figure (1080×1920 px at DPI), for rendering or for checking its layout."""
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # no pyplot: no global state shared between jobs, no GUI backend
    fig.suptitle(
        f"{_short(report.unit_name, 40)}\n{period_of(report).label}", fontsize=14, fontweight="bold", ha="center"
    )
    if report.unit_level == "team":
        # A team has no units below it: its indicators alone.
        _indicators(fig.subplots(1, 1), report)
        return fig
    # Each panel as tall as its rows (plus its titles): a few indicators leave the room to the units.
    indicators = sum(1 for t in report.totals if t.quantity or t.previous)
    units = len([c for c in report.children if c.teams or report.unit_level == "commune"])
    top_rows = max(indicators, MIN_SLOTS) * 1.3 + 3
    bottom_rows = max(min(units, 2 * ranked + 1), MIN_SLOTS) + 3
    top, bottom = fig.subplots(2, 1, gridspec_kw={"height_ratios": [top_rows, bottom_rows]})
    _indicators(top, report)
    if report.unit_level == "commune":
        _teams(bottom, report, ranked)
    else:
        _completeness(bottom, report, ranked)
    return fig


def render_chart(report: Report, ranked: int = CHART_RANKED) -> bytes:
    """The chart as PNG bytes, at most 1080×1920 px."""
    fig = build_chart(report, ranked)
    buffer = io.BytesIO()
    # No bbox_inches="tight": it would change the size; constrained layout keeps everything inside.
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
