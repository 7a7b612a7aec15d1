"""The Excel workbook and the PNG chart: they open, and the workbook's totals equal the JSON report's."""

from __future__ import annotations

import io
import json

from openpyxl import load_workbook

from tests.factories import FakeClock
from tests.features.reports.test_service import WEEK, _generate
from tocns.app import BotApp
from tocns.features.reports.render import render_png, render_xlsx
from tocns.features.reports.service import unit_report
from tocns.features.reports.store import raw_records


async def test_xlsx_totals_equal_json(app: BotApp, clock: FakeClock) -> None:
    tree, _rows = await _generate(app, seed=11)
    async with app.db.session() as session:
        report = await unit_report(session, tree.province, WEEK, app.settings, clock())
        raw = await raw_records(session, tree.province, WEEK.start, WEEK.end)
    data = json.loads(json.dumps(report.to_dict()))
    wb = load_workbook(io.BytesIO(render_xlsx(report, raw, app.settings.tz)))
    # Vietnamese order: Hòa Bình before Tân Lập.
    assert wb.sheetnames == [
        "Tổng hợp",
        "Theo đơn vị",
        "Theo tổ",
        "Tổ chưa báo cáo",
        "Xã Hòa Bình",
        "Xã Tân Lập",
        "Dữ liệu gốc",
    ]
    summary = wb["Tổng hợp"]
    values = {row[0]: row for row in summary.iter_rows(values_only=True) if row and row[0]}
    assert values["Kỳ báo cáo"][1] == "tuần 16/11/2026 - 22/11/2026"
    for total in data["totals"]:
        assert values[total["code"]][3] == total["quantity"]
        assert values[total["code"]][4] == total["previous"]
    # No grand total adding people to files to sessions: each indicator stands on its own.
    assert "TONG" not in values and "Tổng cộng" not in {row[1] for row in values.values() if len(row) > 1}
    # The raw sheet holds one row per live item: per indicator, its quantities add up to the totals.
    raw_rows = list(wb["Dữ liệu gốc"].iter_rows(min_row=2, values_only=True))
    assert values["Số dòng dữ liệu gốc"][1] == len(raw_rows) == len(raw)
    names = {t["name"]: t["code"] for t in data["totals"]}
    by_code: dict[str, int] = {}
    for r in raw_rows:
        by_code[names[r[6]]] = by_code.get(names[r[6]], 0) + r[7]
    assert by_code == {t["code"]: t["quantity"] for t in data["totals"] if t["quantity"]} != {}
    # Each commune's sheet lists its teams with their figures per indicator.
    for child in data["children"]:
        rows = list(wb[child["name"]].iter_rows(min_row=5, values_only=True))
        assert len(rows) == child["teams"]
        got: dict[str, int] = {}
        for row in rows:
            for name, q in zip(data_names(data), row[9:], strict=True):
                got[names[name]] = got.get(names[name], 0) + q
        assert {k: v for k, v in got.items() if v} == {k: v for k, v in child["by_indicator"].items() if v}


def data_names(data: dict) -> list[str]:
    """Indicator names in the workbook's column order."""
    return [t["name"] for t in data["totals"]]


async def test_png_is_an_image(app: BotApp, clock: FakeClock) -> None:
    tree, _rows = await _generate(app, seed=11)
    async with app.db.session() as session:
        report = await unit_report(session, tree.province, WEEK, app.settings, clock())
    png = render_png(report)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
