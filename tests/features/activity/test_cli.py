"""`tocns console` logging session, `tocns export activities` and `tocns indicators import`, as subprocesses."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from openpyxl import load_workbook

from tests.cli.test_cli import run_cli
from tests.factories import MEMBER, ChatHarness, FakeClock, echoed_quantities, record_id, setup_group
from tocns.app import BotApp
from tocns.config import Settings
from tocns.core.signed_links import LINK_PATH, verify
from tocns.features.activity.models import ActivityRecord

CATALOGUE_FILE = Path(__file__).parents[3] / "tocns" / "features" / "activity" / "data" / "indicators.json"

SESSION = [
    "/ghi vneid 5, dvc 3",
    "/ghi hom qua dinh danh 4 nguoi tại nhà văn hóa",
    "/ghi vnied 7",  # refused: nothing recorded, nothing echoed
    "/ghi 2 vssid và mobile money 6; tap huan 1 buoi",
    "/ghi vneid 0",  # refused
    "/ghi voso 2 gian hàng '); DROP TABLE activity_record; --",
]


def _setup_console_group(db_url: str) -> None:
    assert run_cli(["org", "import", "--province", "01"], db_url).returncode == 0
    assert run_cli(["org", "add-team", "00070", "Thôn 3"], db_url).returncode == 0
    code = run_cli(["joincode", "00070"], db_url).stdout.strip()
    joined = run_cli(["console", "--user-id", "1", "--name", "Lan"], db_url, stdin=f"/ketnoi {code}\n/thamgia thon 3\n")
    assert "Lan đã tham gia Thôn 3" in joined.stdout, joined.stderr


async def test_console_session_export_totals_match_receipts(app: BotApp, db_url: str, tmp_path: Path) -> None:
    _setup_console_group(db_url)
    console = run_cli(["console", "--user-id", "1", "--name", "Lan"], db_url, stdin="\n".join(SESSION) + "\n")
    assert console.returncode == 0, console.stderr
    out = console.stdout
    assert out.count("Đã ghi #") == 4
    assert "Không có chỉ tiêu 'vnied'" in out and "phải lớn hơn 0" in out
    echoed = echoed_quantities(out)
    assert sum(echoed) == 5 + 3 + 4 + 2 + 6 + 1 + 2

    exported = run_cli(["export", "activities", "--format", "csv"], db_url)
    assert exported.returncode == 0, exported.stderr
    # A BOM first, so Excel on Windows reads the Vietnamese; Vietnamese headings; dates dd/mm/yyyy.
    assert exported.stdout.startswith("\ufeffMã phiếu,Ngày hoạt động,Đơn vị,")
    rows = list(csv.DictReader(io.StringIO(exported.stdout.removeprefix("\ufeff"))))
    assert sum(int(r["Số lượng"]) for r in rows) == sum(echoed)
    first = rows[0]
    assert first["Đơn vị"] == "Thành phố Hà Nội / Phường Hoàn Kiếm / Thôn 3"
    assert first["Mã đơn vị"] == "01/00070/00070-T01"
    assert first["Người ghi"] == "Lan" and first["Đơn vị tính"] in ("người", "hồ sơ")
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", first["Ngày hoạt động"])
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", first["Ghi lúc"])
    assert any(r["Ghi chú"] == "tại nhà văn hóa" for r in rows)
    assert any(r["Tin nhắn gốc"].endswith("DROP TABLE activity_record; '--") for r in rows)

    lines = run_cli(["export", "activities", "--format", "jsonl", "--org", "00070"], db_url).stdout.splitlines()
    assert sum(json.loads(line)["quantity"] for line in lines) == sum(echoed)
    today_only = run_cli(["export", "activities", "--format", "jsonl", "--since", "01/01/2100"], db_url)
    assert today_only.stdout == ""

    target = tmp_path / "hoat-dong.xlsx"
    assert run_cli(["export", "activities", "--format", "xlsx", "-o", str(target)], db_url).returncode == 0
    book = load_workbook(target)
    assert book.sheetnames == ["Hoạt động"]
    sheet = book["Hoạt động"]
    values = list(sheet.iter_rows(values_only=True))
    quantity_col = values[0].index("Số lượng")
    assert sum(int(row[quantity_col] or 0) for row in values[1:]) == sum(echoed)
    # Real dates an officer can sort and filter, under a frozen header.
    assert isinstance(values[1][1], datetime) and sheet["B2"].number_format == "dd/mm/yyyy"
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:N{len(values)}"


async def test_export_refuses_bad_arguments(app: BotApp, db_url: str) -> None:
    bad_date = run_cli(["export", "activities", "--since", "31/02/2026"], db_url)
    assert bad_date.returncode != 0 and "không phải ngày hợp lệ" in bad_date.stderr
    no_file = run_cli(["export", "activities", "--format", "xlsx"], db_url)
    assert no_file.returncode != 0 and "cần --output" in no_file.stderr
    bad_org = run_cli(["export", "activities", "--org", "NOPE"], db_url)
    assert bad_org.returncode == 1 and "NOPE" in bad_org.stderr


async def test_indicators_import_updates_the_catalogue(app: BotApp, db_url: str, tmp_path: Path) -> None:
    _setup_console_group(db_url)
    catalogue = json.loads(CATALOGUE_FILE.read_text("utf-8"))
    for entry in catalogue:
        if entry["code"] == "vneid":
            entry["aliases"].append("can cuoc so")
            entry["max_per_message"] = 10
    catalogue.append({"code": "chuky", "name": "Chữ ký số", "unit": "người", "aliases": ["chu ky so", "ky so"]})
    path = tmp_path / "chitieu.json"
    path.write_text(json.dumps(catalogue, ensure_ascii=False), encoding="utf-8")

    result = run_cli(["indicators", "import", str(path)], db_url)
    assert result.returncode == 0, result.stderr
    assert "Đã nạp 11 chỉ tiêu: 11 mới, 0 cập nhật." in result.stdout  # the catalogue was still empty

    console = run_cli(
        ["console", "--user-id", "1", "--name", "Lan"],
        db_url,
        stdin="/ghi can cuoc so 3\n/ghi ky so 2\n/ghi vneid 11\n",
    )
    assert "Định danh điện tử VNeID (vneid): 3 người" in console.stdout
    assert "Chữ ký số (chuky): 2 người" in console.stdout
    assert "tối đa 10 người mỗi tin" in console.stdout

    again = run_cli(["indicators", "import", str(path)], db_url)
    assert "0 mới, 0 cập nhật" in again.stdout

    path.write_text('[{"code": "x"}]', encoding="utf-8")
    broken = run_cli(["indicators", "import", str(path)], db_url)
    assert broken.returncode != 0 and "thiếu name, unit" in broken.stderr
    missing = run_cli(["indicators", "import", str(tmp_path / "none.json")], db_url)
    assert missing.returncode != 0 and "không có tệp" in missing.stderr


async def test_demo_has_sample_activity_and_ghi_works_out_of_the_box(app: BotApp, db_url: str) -> None:
    demo = run_cli(["demo"], db_url)
    assert demo.returncode == 0, demo.stderr
    assert "Nhật ký mẫu:" in demo.stdout
    before = run_cli(["export", "activities", "--format", "jsonl"], db_url).stdout.splitlines()
    assert len(before) > 50
    console = run_cli(
        ["console", "--chat-id", "demo-xa-1", "--user-id", "demo-1"], db_url, stdin="/ghi vneid 4\n/cuatoi\n"
    )
    assert "Đã ghi #" in console.stdout and "Thôn 1 (Xã Tân Lập)" in console.stdout, console.stdout
    after = run_cli(["export", "activities", "--format", "jsonl"], db_url).stdout.splitlines()
    assert len(after) == len(before) + 1


async def test_export_past_max_rows_keeps_every_row_and_links_kept_photos(
    app: BotApp, db_url: str, tmp_path: Path, settings: Settings, clock: FakeClock
) -> None:
    chat = ChatHarness(app)
    await setup_group(app, chat, clock)
    kept = record_id(await chat.text("/ghi vneid 5, dvc 3", user=MEMBER))
    unkept = record_id(await chat.text("/ghi vneid 4", user=MEMBER))
    await chat.text("/ghi dvc 2, vssid 6", user=MEMBER)
    async with app.db.session() as session:
        for rid, photo in ((kept, "files:evidence/anh.jpg"), (unkept, "AgAD-never-fetched")):
            record = await session.get(ActivityRecord, rid)
            assert record is not None
            record.photo = photo
            session.add(record)
    signing = settings.model_copy(
        update={
            "link_signing_secret": "export-link-secret-0123456789",
            "public_base_url": "https://bot.example",
            "files_dir": str(tmp_path),
        }
    )
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "anh.jpg").write_bytes(b"\xff\xd8 a kept photo")
    env = {
        "LINK_SIGNING_SECRET": signing.link_signing_secret,
        "PUBLIC_BASE_URL": signing.public_base_url,
        "FILES_DIR": str(tmp_path),
        "TOCNS_CLOCK_START": clock().isoformat(),
    }

    book_path = tmp_path / "hoat-dong.xlsx"
    split = run_cli(
        ["export", "activities", "--format", "xlsx", "-o", str(book_path), "--max-rows", "3"], db_url, extra_env=env
    )
    assert split.returncode == 0, split.stderr
    assert (
        "Đã xuất 5 dòng" in split.stderr and "chia sang 3 trang" in split.stderr and "không bỏ dòng nào" in split.stderr
    )
    book = load_workbook(book_path)
    assert book.sheetnames == ["Ghi chú", "Hoạt động", "Hoạt động (2)", "Hoạt động (3)"]
    rows = [row for name in book.sheetnames[1:] for row in list(book[name].iter_rows(values_only=True))[1:]]
    assert sum(int(row[7]) for row in rows) == 5 + 3 + 4 + 2 + 6
    photos = {row[0]: row[10] for row in rows}
    link = urlsplit(str(photos[kept]))
    query = parse_qs(link.query)
    assert f"{link.scheme}://{link.netloc}" == "https://bot.example"
    relative = link.path.removeprefix(f"{LINK_PATH}/")
    assert (
        verify(signing, relative, int(query["exp"][0]), query["sig"][0], clock()) == tmp_path / "evidence" / "anh.jpg"
    )
    assert photos[unkept] == "có ảnh (chưa lưu được)"  # not the platform's file id nobody can open

    csv_path = tmp_path / "hoat-dong.csv"
    zipped = run_cli(["export", "activities", "-o", str(csv_path), "--max-rows", "3"], db_url, extra_env=env)
    assert zipped.returncode == 0, zipped.stderr
    assert "chia thành 3 tệp CSV" in zipped.stderr and "hoat-dong.zip" in zipped.stderr
    with zipfile.ZipFile(tmp_path / "hoat-dong.zip") as archive:
        texts = [archive.read(name).decode("utf-8").removeprefix("\ufeff") for name in archive.namelist()]
    quantities = [int(r["Số lượng"]) for text in texts for r in csv.DictReader(io.StringIO(text))]
    assert sorted(quantities) == [2, 3, 4, 5, 6]

    refused = run_cli(["export", "activities", "--max-rows", "1"], db_url)
    assert refused.returncode != 0 and "--max-rows phải từ 2 đến 1.048.576" in refused.stderr
