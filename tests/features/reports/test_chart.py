"""The report chart on a phone: 1080×1920 px at most, nothing overlapping, "chưa có dữ liệu" when empty."""

from __future__ import annotations

import io
import itertools
import random
from datetime import UTC, date, datetime

from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from tocns.features.reports.chart import EMPTY, build_chart, render_chart
from tocns.features.reports.store import ChildRow, IndicatorTotal, Report

INDICATORS = [
    ("dvc", "Dịch vụ công trực tuyến", "hồ sơ"),
    ("vneid", "Kích hoạt VNeID", "tài khoản"),
    ("thanhtoan", "Thanh toán không dùng tiền mặt", "tài khoản"),
    ("tmdt", "Gian hàng thương mại điện tử", "gian hàng"),
    ("suckhoe", "Sổ sức khỏe điện tử", "người"),
    ("bhxh", "Ứng dụng VssID", "người"),
    ("attt", "Kỹ năng an toàn thông tin", "người"),
    ("taphuan", "Tập huấn, tuyên truyền", "buổi"),
    ("khac", "Nội dung khác theo chỉ đạo", "lượt"),
]


def _report(level: str, children: int, seed: int = 1, empty: bool = False) -> Report:
    rnd = random.Random(seed)
    totals = [
        IndicatorTotal(code, name, unit, 0 if empty else rnd.randint(0, 5000), 0 if empty else rnd.randint(0, 900))
        for code, name, unit in INDICATORS
    ]
    rows = []
    for i in range(children):
        teams = 1 if level == "commune" else rnd.choice([0, 0, *range(1, 16)])
        reporting = 0 if empty else rnd.randint(0, teams)
        rows.append(
            ChildRow(
                code=f"C{i:03d}",
                name=f"Phường Có Tên Rất Dài Số {i} Của Thành Phố" if i % 7 == 0 else f"Xã Số {i}",
                teams=teams,
                reporting_teams=reporting,
                records=reporting * rnd.randint(1, 30),
                quantity=0,
                previous_quantity=0,
            )
        )
    return Report(
        unit_code="01",
        unit_name="Thành phố Hà Nội" if level == "province" else "Phường Hoàn Kiếm",
        unit_level=level,
        start=date(2026, 11, 16),
        end=date(2026, 11, 22),
        previous_start=date(2026, 11, 9),
        previous_end=date(2026, 11, 15),
        generated_at=datetime(2026, 11, 23, 1, tzinfo=UTC),
        totals=totals,
        children=rows,
        teams=sum(r.teams for r in rows),
        reporting_teams=sum(r.reporting_teams for r in rows),
        records=sum(r.records for r in rows),
        timely_records=0,
        silent_teams=[],
    )


def _texts(fig: Figure) -> list[Text]:
    fig.canvas.draw()  # type: ignore[no-untyped-call]
    found = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return found


def _overlapping(fig: Figure) -> list[tuple[str, str]]:
    texts = _texts(fig)
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    return [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if ba.overlaps(bb)]


def _inside(fig: Figure) -> bool:
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    width, height = fig.bbox.width, fig.bbox.height
    return all(
        b.x0 >= -1 and b.y0 >= -1 and b.x1 <= width + 1 and b.y1 <= height + 1
        for b in (t.get_window_extent(renderer) for t in _texts(fig))
    )


def test_fits_a_phone_at_any_province_size() -> None:
    for children in (1, 3, 12, 126, 700):
        png = render_chart(_report("province", children, seed=children))
        width, height = Image.open(io.BytesIO(png)).size
        assert width <= 1080 and height <= 1920, children


def test_nothing_overlaps_and_everything_is_inside() -> None:
    cases = (("province", 126), ("province", 4), ("province", 2), ("commune", 30), ("commune", 3), ("team", 0))
    for level, children in cases:
        fig = build_chart(_report(level, children))
        assert _overlapping(fig) == [], (level, children)
        assert _inside(fig), (level, children)


def test_value_labels_best_worst_and_median() -> None:
    report = _report("province", 126)
    texts = [t.get_text() for t in _texts(build_chart(report))]
    first = report.totals[0]
    assert any(t.startswith(f"{first.quantity:,}".replace(",", ".") + " hồ sơ") for t in texts)
    without = sum(1 for c in report.children if not c.teams)
    assert any(f"6 cao nhất, 6 thấp nhất, {without} chưa có tổ\ntrung vị" in t for t in texts)
    with_teams = [c for c in report.children if c.teams]
    assert f"… {len(with_teams) - 12} đơn vị khác" in texts


def test_empty_period_says_no_data() -> None:
    fig = build_chart(_report("province", 0, empty=True))
    texts = [t.get_text() for t in _texts(fig)]
    assert texts.count(EMPTY) == 2
    # No axis drawn around nothing (the old chart ran from -0.04 to 0.04).
    assert all(not ax.axison for ax in fig.axes)
