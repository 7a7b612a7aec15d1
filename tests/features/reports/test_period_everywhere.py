"""Chat (/baocao, /cuatoi), the CLI (`tocns report --period`) and the API read periods with one grammar.

One table: every channel accepts the same periods with the same dates and refuses the same ones with the same
Vietnamese reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import httpx

from tests.factories import ChatHarness, FakeClock, build_tree
from tests.features.reports.test_service import _bind
from tocns.app import BotApp
from tocns.core.roles import Role
from tocns.features.apitokens.store import create_token
from tocns.web.app import create_app

NOW = "2026-11-25 10:00"  # a Wednesday

# (typed, (start, end)) for accepted periods, (typed, reason) for refused ones.
ACCEPTED: list[tuple[str, tuple[date, date]]] = [
    ("", (date(2026, 11, 23), date(2026, 11, 29))),
    ("tuần này", (date(2026, 11, 23), date(2026, 11, 29))),
    ("tuan truoc", (date(2026, 11, 16), date(2026, 11, 22))),
    ("tháng này", (date(2026, 11, 1), date(2026, 11, 30))),
    ("thang truoc", (date(2026, 10, 1), date(2026, 10, 31))),
    ("tháng 10", (date(2026, 10, 1), date(2026, 10, 31))),
    ("thang 10/2026", (date(2026, 10, 1), date(2026, 10, 31))),
    ("2026-W47", (date(2026, 11, 16), date(2026, 11, 22))),
    ("2026-11", (date(2026, 11, 1), date(2026, 11, 30))),
    ("01/11-15/11", (date(2026, 11, 1), date(2026, 11, 15))),
    ("01/11/2026-15/11/2026", (date(2026, 11, 1), date(2026, 11, 15))),
    ("2026-11-01..2026-11-15", (date(2026, 11, 1), date(2026, 11, 15))),
    ("28/12-03/01", (date(2025, 12, 28), date(2026, 1, 3))),
]
REFUSED: list[tuple[str, str]] = [
    ("15/11-01/11", "Khoảng ngày bị ngược: ngày kết thúc 01/11/2026 trước ngày bắt đầu 15/11/2026."),
    ("20/11/2026-01/11/2026", "Khoảng ngày bị ngược"),
    ("01/12-05/12", "Kỳ từ 01/12/2026 đến 05/12/2026 chưa bắt đầu; hôm nay là 25/11/2026."),
    ("tháng 12/2026", "Kỳ tháng 12/2026 chưa bắt đầu"),
    ("2026-W49", "chưa bắt đầu"),
    ("2026-W60", "Tuần '2026-W60' không có thật"),
    ("2026-13", "Tháng '2026-13' không có thật"),
    ("hom qua", "Không hiểu khoảng thời gian 'hom qua'"),
    # The ends of the calendar: one reason for a year outside 2000..2100 everywhere (no 500, no parked update).
    ("9999-W52", "Năm 9999 trong '9999-W52' nằm ngoài khoảng bot hỗ trợ: chỉ nhận năm từ 2000 đến 2100."),
    ("9999-12", "Năm 9999 trong '9999-12' nằm ngoài khoảng bot hỗ trợ"),
    ("tháng 12/9999", "Năm 9999 trong 'tháng 12/9999'"),
    ("0001-W01", "Năm 1 trong '0001-W01'"),
    ("0001-01-01..0001-01-05", "Năm 1"),
    ("2025-W53", "Tuần '2025-W53' không có thật"),
]

# Runs the real `tocns` entry point once per row inside one process (one interpreter start for the table).
_CLI_DRIVER = """
import contextlib, io, json, sys
from tocns.cli import main
rows = []
for period in json.loads(sys.argv[1]):
    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["report", "X1", "--period", period, "--format", "json", "--at", sys.argv[2]])
    out.flush()
    rows.append({"code": code, "out": out.buffer.getvalue().decode(), "err": err.getvalue()})
print(json.dumps(rows))
"""


def _cli(periods: list[str], db_url: str) -> list[dict[str, object]]:
    env = {**os.environ, "DATABASE_URL": db_url, "AUTO_MIGRATE": "false"}
    done = subprocess.run(
        [sys.executable, "-c", _CLI_DRIVER, json.dumps(periods), NOW],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return rows


async def test_chat_cli_and_api_accept_and_refuse_the_same_periods(
    app: BotApp, chat: ChatHarness, clock: FakeClock, db_url: str
) -> None:
    async with app.db.session() as session:
        tree = await build_tree(session)
        token = await create_token(session, tree.province, app.clock())
    await _bind(app, tree.commune, "xa-group", "10", Role.COMMUNE_LEADER)
    clock.set_local(NOW)
    typed = [t for t, _ in ACCEPTED] + [t for t, _ in REFUSED]
    cli_rows = dict(zip(typed, _cli(typed, db_url), strict=True))
    web = create_app(app.settings, bot_app=app)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://t") as client:
        for period, (start, end) in ACCEPTED:
            api = await client.get("/api/v1/reports/X1", params={"period": period}, headers=auth)
            assert api.status_code == 200, (period, api.text)
            assert (api.json()["start"], api.json()["end"]) == (start.isoformat(), end.isoformat()), period
            cli = cli_rows[period]
            assert cli["code"] == 0, (period, cli)
            cli_json = json.loads(str(cli["out"]))
            assert (cli_json["start"], cli_json["end"]) == (start.isoformat(), end.isoformat()), period
            reply = await chat.text(f"/baocao {period}".strip(), chat="xa-group", user="10")
            assert "BÁO CÁO XÃ TÂN LẬP" in reply, (period, reply)
            span = f"{start:%d/%m/%Y} - {end:%d/%m/%Y}"
            labels = (f"tuần {span}", f"tháng {start:%m/%Y}", f"từ {start:%d/%m/%Y} đến {end:%d/%m/%Y}")
            assert any(f"Kỳ: {label}" in reply for label in labels), (period, reply)
            mine = await chat.text(f"/cuatoi {period}".strip(), chat="xa-group", user="10")
            assert any(f"chưa ghi phiếu nào trong {label}" in mine for label in labels), (period, mine)
        for period, reason in REFUSED:
            api = await client.get("/api/v1/reports/X1", params={"period": period}, headers=auth)
            assert api.status_code == 422 and reason in api.json()["detail"], (period, api.text)
            detail = api.json()["detail"]
            cli = cli_rows[period]
            assert cli["code"] == 2 and str(cli["err"]).strip() == f"Lỗi: {detail}", (period, cli)
            for command in ("/baocao", "/cuatoi"):
                reply = await chat.text(f"{command} {period}", chat="xa-group", user="10")
                assert reply.splitlines()[0] == detail, (command, period, reply)


def test_cli_times_and_dates_outside_the_years_are_one_line_refusals(db_url: str) -> None:
    from tests.cli.test_cli import run_cli

    at = run_cli(["report", "X1", "--at", "9999-12-31 23:00"], db_url)
    assert at.returncode == 2
    assert at.stderr.strip() == (
        "Lỗi: Năm 9999 trong '9999-12-31 23:00' nằm ngoài khoảng bot hỗ trợ: chỉ nhận năm từ 2000 đến 2100."
    )
    since = run_cli(["export", "activities", "--since", "01/01/0001"], db_url)
    assert since.returncode != 0 and since.stderr.strip().splitlines()[-1] == (
        "Lỗi: --since: Năm 1 trong '01/01/0001' nằm ngoài khoảng bot hỗ trợ: chỉ nhận năm từ 2000 đến 2100."
    )
