"""The reports API (/api/v1, per-department tokens), signed download links and the `tocns report` CLI."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from pathlib import Path

import httpx
from openpyxl import load_workbook

from tests.cli.test_cli import run_cli
from tests.factories import FakeClock, build_tree, make_logger
from tests.features.reports.test_service import local
from tocns.app import BotApp
from tocns.core.signed_links import sign_url
from tocns.features.apitokens.store import create_token
from tocns.web.app import create_app


async def _data(app: BotApp) -> tuple[str, str]:
    async with app.db.session() as session:
        tree = await build_tree(session)
        logger = await make_logger(session, app.clock())
        await logger.log(tree.teams[0], date(2026, 11, 17), {"vneid": 12, "dvc": 2}, local(date(2026, 11, 17)))
        await logger.log(tree.other_teams[0], date(2026, 11, 18), {"vneid": 3}, local(date(2026, 11, 18)))
        province_token = await create_token(session, tree.province, app.clock())
        commune_token = await create_token(session, tree.commune, app.clock())
    return province_token, commune_token


def _client(app: BotApp) -> httpx.AsyncClient:
    web = create_app(app.settings, bot_app=app)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://testserver")


async def test_api_json_csv_xlsx_agree(app: BotApp) -> None:
    province_token, commune_token = await _data(app)
    auth = {"Authorization": f"Bearer {province_token}"}
    async with _client(app) as client:
        js = await client.get("/api/v1/reports/P01", params={"period": "2026-W47"}, headers=auth)
        assert js.status_code == 200, js.text
        data = js.json()
        assert data["start"] == "2026-11-16" and data["end"] == "2026-11-22"
        totals = {t["code"]: t["quantity"] for t in data["totals"]}
        assert totals["vneid"] == 15 and totals["dvc"] == 2 and data["total_quantity"] == 17
        assert (
            data["teams"] == 4
            and data["reporting_teams"] == 2
            and data["tasks"] == {"due": 0, "done": 0, "overdue": 0, "progress": [], "overdue_tasks": []}
        )
        xlsx = await client.get("/api/v1/reports/P01", params={"period": "2026-W47", "format": "xlsx"}, headers=auth)
        wb = load_workbook(io.BytesIO(xlsx.content))
        rows = {r[0]: r[3] for r in wb["Tổng hợp"].iter_rows(values_only=True) if r and r[0]}
        assert rows["vneid"] == 15 and rows["dvc"] == 2 and "TONG" not in rows
        csv_text = (
            await client.get("/api/v1/reports/X1", params={"period": "2026-W47", "format": "csv"}, headers=auth)
        ).content.decode("utf-8-sig")
        assert "vneid,Kích hoạt VNeID,tài khoản,12,0,12" in csv_text
        # Without a token, with a wrong one, or outside the token's unit: refused.
        assert (await client.get("/api/v1/reports/P01")).status_code == 401
        bad = {"Authorization": "Bearer tocns_wrong"}
        assert (await client.get("/api/v1/reports/P01", headers=bad)).status_code == 401
        commune_auth = {"Authorization": f"Bearer {commune_token}"}
        assert (await client.get("/api/v1/reports/X2", headers=commune_auth)).status_code == 403
        assert (await client.get("/api/v1/reports/X1", headers=commune_auth)).status_code == 200
        wrong = await client.get("/api/v1/reports/P01", params={"period": "2026-13"}, headers=auth)
        assert wrong.status_code == 422 and "không có thật" in wrong.json()["detail"]
        docs = await client.get("/openapi.json")
        assert "/api/v1/reports/{org_code}" in docs.json()["paths"]


async def test_api_xlsx_above_the_raw_limit_is_one_zip_with_the_workbook_and_its_raw_rows(app: BotApp) -> None:
    province_token, _commune_token = await _data(app)
    app.settings.report_raw_sheet_max_rows = 2  # 3 raw rows this week: above the limit
    auth = {"Authorization": f"Bearer {province_token}"}
    async with _client(app) as client:
        got = await client.get("/api/v1/reports/P01", params={"period": "2026-W47", "format": "xlsx"}, headers=auth)
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert 'filename="bao-cao-P01-2026-W47.zip"' in got.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(got.content)) as bundle:
        # The workbook and the raw rows' CSV side by side: no zip inside the zip to open a second time.
        assert bundle.namelist() == ["bao-cao-P01-2026-W47.xlsx", "bao-cao-P01-2026-W47-du-lieu-goc.csv"]
        wb = load_workbook(io.BytesIO(bundle.read("bao-cao-P01-2026-W47.xlsx")))
        data = bundle.read("bao-cao-P01-2026-W47-du-lieu-goc.csv").decode("utf-8-sig")
    assert "Dữ liệu gốc" not in wb.sheetnames
    summary = {r[0]: r for r in wb["Tổng hợp"].iter_rows(values_only=True) if r and r[0]}
    assert summary["Số dòng dữ liệu gốc"][1] == 3
    assert data.splitlines()[0].startswith("Mã phiếu,Ngày hoạt động,") and len(data.splitlines()) == 1 + 3


async def test_signed_link_valid_seven_days(app: BotApp, clock: FakeClock, tmp_path: Path) -> None:
    app.settings.files_dir = str(tmp_path)
    (tmp_path / "2026-W47").mkdir()
    (tmp_path / "2026-W47" / "bao-cao.xlsx").write_bytes(b"PK-excel")
    link = sign_url(app.settings, tmp_path / "2026-W47" / "bao-cao.xlsx", clock())
    path = link.removeprefix("http://testserver")
    async with _client(app) as client:
        assert (await client.get(path)).content == b"PK-excel"
        assert (await client.get(path.replace("sig=", "sig=0"))).status_code == 403
        assert (await client.get(path.replace("bao-cao.xlsx", "../x.xlsx"))).status_code in (403, 404)
        clock.advance(days=7, seconds=1)
        expired = await client.get(path)
        assert expired.status_code == 403 and "hết hạn" in expired.json()["detail"]


async def test_cli_report_formats(app: BotApp, db_url: str, tmp_path: Path, clock: FakeClock) -> None:
    await _data(app)
    text = run_cli(["report", "X1", "--period", "2026-11-16..2026-11-22"], db_url)
    assert text.returncode == 0, text.stderr
    assert "BÁO CÁO XÃ TÂN LẬP" in text.stdout and "Kích hoạt VNeID: 12 tài khoản" in text.stdout
    js = run_cli(["report", "P01", "--period", "2026-W47", "--format", "json"], db_url)
    assert json.loads(js.stdout)["total_quantity"] == 17
    out = tmp_path / "r.png"
    png = run_cli(["report", "P01", "--period", "2026-11", "--format", "png", "-o", str(out)], db_url)
    assert png.returncode == 0 and out.read_bytes().startswith(b"\x89PNG")
    bad = run_cli(["report", "P01", "--period", "2026-W60"], db_url)
    assert bad.returncode == 2 and "không có thật" in bad.stderr
    missing = run_cli(["report", "NOPE"], db_url)
    assert missing.returncode == 1 and "NOPE" in missing.stderr
    token = run_cli(["apitoken", "create", "P01"], db_url)
    assert token.returncode == 0 and token.stdout.strip().startswith("tocns_")
    assert "hành động với vai trò Cán bộ Sở" in token.stderr
    commune = run_cli(["apitoken", "create", "X1"], db_url)
    assert "hành động với vai trò Lãnh đạo xã/phường" in commune.stderr


async def test_cli_and_api_csv_are_the_same_file(app: BotApp, db_url: str, tmp_path: Path) -> None:
    province_token, _ = await _data(app)
    async with _client(app) as client:
        api = await client.get(
            "/api/v1/reports/P01",
            params={"period": "2026-W47", "format": "csv"},
            headers={"Authorization": f"Bearer {province_token}"},
        )
    out = tmp_path / "bao-cao.csv"
    cli = run_cli(["report", "P01", "--period", "2026-W47", "--format", "csv", "-o", str(out)], db_url)
    assert cli.returncode == 0, cli.stderr
    # Byte for byte: a BOM (Excel on Windows reads the Vietnamese), the same columns, dates dd/mm/yyyy.
    assert out.read_bytes() == api.content
    text = api.content.decode("utf-8")
    assert text.startswith("\ufeffĐơn vị,Mã,Từ ngày,Đến ngày\r\nTỉnh Thử,P01,16/11/2026,22/11/2026\r\n")
    assert "Mã đơn vị,Đơn vị,Số tổ,Tổ có báo cáo,Tỷ lệ tổ báo cáo (%)" in text
    # Hòa Bình before Tân Lập; 1 of 3 teams reported (33%), its one record on time (100%).
    assert text.index("X2,Xã Hòa Bình,1,1,100,1,1,100") < text.index("X1,Xã Tân Lập,3,1,33,1,1,100")
    assert "X1,Xã Tân Lập,X1-T03,Bản Nà Hin," in text


# Calendar edges (the audit found 19 of 24 answered 500): each is a report (200) or a Vietnamese 422, in every format.
CALENDAR_EDGES = [
    ("0001-W01", 422),
    ("0001-01", 422),
    ("0000-01", 422),
    ("9999-W52", 422),
    ("9999-12", 422),
    ("tháng 12/9999", 422),
    ("tháng 1/0001", 422),
    ("tuần 1/0001", 422),
    ("1999-12", 422),
    ("2101-01", 422),
    ("0001-01-01..0001-01-07", 422),
    ("9999-12-25..9999-12-31", 422),
    ("01/01/0001-07/01/0001", 422),
    ("25/12/9999-31/12/9999", 422),
    ("2025-W53", 422),
    ("2026-W00", 422),
    ("2026-00", 422),
    ("2026-13", 422),
    ("tháng 0", 422),
    ("31/02-01/03", 422),
    ("2026-02-29..2026-03-01", 422),
    ("2000-W01", 200),
    ("2000-01", 200),
    ("2026-W53", 422),  # 2026 has a week 53, but it has not started on 25/11/2026
]


async def test_calendar_edges_are_a_report_or_a_422(app: BotApp, clock: FakeClock) -> None:
    province_token, _ = await _data(app)
    clock.set_local("2026-11-25 10:00")
    auth = {"Authorization": f"Bearer {province_token}"}
    async with _client(app) as client:
        for period, status in CALENDAR_EDGES:
            for fmt in ("json", "csv"):
                response = await client.get(
                    "/api/v1/reports/P01", params={"period": period, "format": fmt}, headers=auth
                )
                assert response.status_code == status, (period, fmt, response.text)
                if status == 422:
                    assert response.json()["detail"].startswith(
                        ("Năm ", "Tuần ", "Tháng ", "Ngày ", "Khoảng", "Kỳ ")
                    ), (
                        period,
                        response.text,
                    )
