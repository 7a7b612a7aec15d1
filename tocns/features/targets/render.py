"""Progress as Vietnamese text lines: the same lines in /baocao, the weekly summary, the digest and /kehoach."""

from __future__ import annotations

from tocns.core.dates import fmt_date
from tocns.core.text import grouped
from tocns.features.targets.grammar import SHARE_LABELS
from tocns.features.targets.models import WHOLE_YEAR
from tocns.features.targets.service import Progress, ProgressRow

LEVEL_WORDS = {"team": "Tổ", "commune": "Xã/phường", "district": "Huyện", "province": "Tỉnh"}


num = grouped


def pct(value: float | None) -> str:
    """A share as a whole percentage, '—' when there is nothing to divide by."""
    return "—" if value is None else f"{round(value * 100)}%"


def row_figures(row: ProgressRow) -> str:
    """'850/1.200 người (71%), cần 1.050 theo tiến độ: chậm'; with the share of households when relevant."""
    status = "đúng tiến độ" if row.on_track else f"chậm (cần {num(row.expected)} theo tiến độ)"
    text = f"{num(row.done)}/{num(row.target)} {row.indicator_unit} ({pct(row.percent)}), {status}"
    if row.share_of and row.share_percent:
        base = row.households if row.share_of == "households" else row.adults
        if base:
            text += f"; mục tiêu {row.share_percent}% {SHARE_LABELS[row.share_of]}, đạt {pct(row.done / base)}"
    elif row.household_share is not None and row.indicator_unit in ("hộ", "người"):
        text += f"; bằng {pct(row.household_share)} số hộ"
    return text


def _behind_item(row: ProgressRow) -> str:
    return f"{row.unit_name} ({row.indicator} {num(row.done)}/{num(row.target)}, {pct(row.percent)})"


def progress_lines(progress: Progress, every_name: bool, limit: int = 5) -> list[str]:
    """The unit's own targets with progress, then the units below (children) behind the linear pace.

    `every_name`: a commune's leaders get every team behind; a province's text names the `limit` furthest behind.
    """
    lines = ["", f"Mục tiêu năm {progress.year} (tính đến {fmt_date(progress.as_of)}):"]
    own = progress.yearly(0)
    for row in own:
        lines.append(f"• {row.indicator_name}: {row_figures(row)}")
    children = progress.yearly(1)
    if children:
        behind = progress.behind(1)
        names = sorted({r.unit_code for r in children})
        late = sorted({r.unit_code for r in behind})
        word = LEVEL_WORDS.get(children[0].unit_level, "Đơn vị").lower()
        if not behind:
            lines.append(f"Cả {len(names)} {word} có mục tiêu đều đúng tiến độ. 👏")
        else:
            lines.append(f"{word.capitalize()} chậm tiến độ ({len(late)}/{len(names)}):")
            shown = behind if every_name else behind[:limit]
            lines += [f"• {_behind_item(r)}" for r in shown]
            if len(behind) > len(shown):
                lines.append(f"… và {len(behind) - len(shown)} mục khác (xem trang Kế hoạch trong tệp Excel).")
    elif not own:
        # Only units further down have targets (a province whose teams have theirs): the workbook lists them.
        lines.append("• Mục tiêu được đặt cho các đơn vị cấp dưới: xem /kehoach hoặc trang Kế hoạch trong tệp Excel.")
    return lines


def month_label(month: int) -> str:
    """'cả năm' or 'tháng 3'."""
    return "cả năm" if month == WHOLE_YEAR else f"tháng {month}"
