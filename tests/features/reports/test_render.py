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


async def test_xlsx_totals_equal_json_and_png_is_an_image(app: BotApp, clock: FakeClock) -> None:
    tree, _rows = await _generate(app, seed=11)
    async with app.db.session() as session:
        report = await unit_report(session, tree.province, WEEK, app.settings, clock())
        raw = await raw_records(session, tree.province, WEEK.start, WEEK.end)
    data = json.loads(json.dumps(report.to_dict()))
    wb = load_workbook(io.BytesIO(render_xlsx(report, raw, app.settings.tz)))
    assert wb.sheetnames == ["Tổng hợp", "Xã Tân Lập", "Xã Hòa Bình", "Dữ liệu gốc"]
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
    names = {t["name"]: t["code"] for t in data["totals"]}
    by_code: dict[str, int] = {}
    for r in raw_rows:
        by_code[names.get(r[5], r[5])] = by_code.get(names.get(r[5], r[5]), 0) + r[6]
    assert by_code == {t["code"]: t["quantity"] for t in data["totals"] if t["quantity"]} != {}
    for child in data["children"]:
        sheet = wb[child["name"]]
        figures = {row[0]: row[2] for row in list(sheet.iter_rows(values_only=True))[4:]}
        assert {names[n]: q for n, q in figures.items() if q} == {k: v for k, v in child["by_indicator"].items() if v}

    png = render_png(report)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
