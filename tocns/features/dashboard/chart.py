"""The 8-week trend as a small server-rendered SVG bar chart: no script, no library, readable on a phone."""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH = 320
HEIGHT = 120
TOP = 16
BOTTOM = 18


def trend_svg(values: list[int], labels: list[str]) -> Markup:
    """Bars of `values` (oldest first) labelled below, the last bar (the week on screen) darker, each valued above."""
    count = max(len(values), 1)
    peak = max([*values, 1])
    slot = WIDTH / count
    bar = slot * 0.7
    usable = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape("Xu hướng 8 tuần: " + ", ".join(str(v) for v in values))}">'
    ]
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        height = usable * value / peak
        x = i * slot + (slot - bar) / 2
        y = TOP + usable - height
        colour = "#1d4e89" if i == count - 1 else "#8fb3de"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" fill="{colour}">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle">{value}</text>')
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 5}" font-size="9" text-anchor="middle" fill="#555">'
            f"{escape(label)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
