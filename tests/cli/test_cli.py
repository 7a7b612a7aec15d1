"""The operator CLI and the scripted console, run as real subprocesses."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from tocns.app import BotApp
from tocns.db.audit import AuditLog
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit

_SCRIPT = Path(sys.executable).parent / "tocns"
# The installed console script, exactly as an operator runs it.
TOCNS = [str(_SCRIPT)] if _SCRIPT.exists() else [shutil.which("tocns") or "tocns"]


def run_cli(
    args: list[str],
    db_url: str,
    stdin: str | None = None,
    extra_env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `tocns` in a subprocess on the test database."""
    env = {**os.environ, "DATABASE_URL": db_url, "AUTO_MIGRATE": "false", **(extra_env or {})}
    return subprocess.run(
        [*TOCNS, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120, cwd=cwd or Path.cwd()
    )


async def _count_units(app: BotApp) -> int:
    async with app.db.session() as session:
        return len((await session.exec(select(OrgUnit))).all())


async def test_scripted_console_session(app: BotApp, db_url: str) -> None:
    assert run_cli(["org", "import", "--province", "01"], db_url).returncode == 0
    added = run_cli(["org", "add-team", "00070", "Thôn 3"], db_url)
    assert added.returncode == 0, added.stderr
    team_code = added.stdout.strip()
    assert team_code == "00070-T01"
    issued = run_cli(["joincode", "00070", "--role", "commune_leader", "--ttl", "7d"], db_url)
    code = issued.stdout.strip()
    assert len(code) == 8, issued
    # The operator reads the expiry in local time and the Vietnamese form, not an ISO stamp in UTC.
    assert re.search(r"hết hạn lúc \d\d:\d\d \d\d/\d\d/20\d\d\.", issued.stderr), issued.stderr
    assert "UTC" not in issued.stderr and "+00:00" not in issued.stderr

    console = run_cli(
        ["console", "--user-id", "1", "--name", "Lan"], db_url, stdin=f"/ketnoi {code}\n/thamgia thon 3\n/huongdan\n"
    )
    assert console.returncode == 0, console.stderr
    out = console.stdout
    assert "Đã kết nối nhóm này với Phường Hoàn Kiếm" in out
    assert "Lan đã tham gia Thôn 3" in out
    assert "Các lệnh bạn dùng được:" in out and "/huongdan" in out

    async with app.db.session() as session:
        binding = await org_store.get_binding(session, "console", "console-group")
        commune = await org_store.get_unit_by_code(session, "00070")
        assert binding is not None and commune is not None and binding.org_unit_id == commune.id
        person = await org_store.get_person(session, "console", "1")
        assert person is not None
        units = [u.name for _m, u in await org_store.memberships_of(session, person.id or 0)]
        assert "Thôn 3" in units


async def test_cli_errors_are_clear_and_change_nothing(app: BotApp, db_url: str) -> None:
    run_cli(["org", "import", "--province", "01"], db_url)
    run_cli(["org", "add-team", "00070", "Thôn 3"], db_url)
    before = await _count_units(app)
    async with app.db.session() as session:
        audit_before = len((await session.exec(select(AuditLog))).all())

    unknown = run_cli(["org", "add-team", "99999", "Thôn 1"], db_url)
    assert unknown.returncode == 1 and "Không có đơn vị nào mang mã '99999'" in unknown.stderr
    duplicate = run_cli(["org", "add-team", "00070", "thon 3"], db_url)
    assert duplicate.returncode == 1 and "đã có tổ 'Thôn 3'" in duplicate.stderr
    bad_code = run_cli(["joincode", "NOPE"], db_url)
    assert bad_code.returncode == 1 and "NOPE" in bad_code.stderr
    bad_role = run_cli(["joincode", "00070", "--role", "boss"], db_url)
    assert bad_role.returncode != 0 and "vai trò 'boss' không hợp lệ" in bad_role.stderr
    # Staff reach every unit under theirs: a staff code exists only for a province (issue 14).
    staff_on_commune = run_cli(["joincode", "00070", "--role", "staff"], db_url)
    assert staff_on_commune.returncode == 1 and staff_on_commune.stdout == ""
    assert (
        "Cán bộ Sở chỉ giao ở cấp tỉnh" in staff_on_commune.stderr
        and "Phường Hoàn Kiếm (00070)" in staff_on_commune.stderr
    )
    bad_province = run_cli(["org", "import", "--province", "999"], db_url)
    assert bad_province.returncode == 1

    assert await _count_units(app) == before
    async with app.db.session() as session:
        assert len((await session.exec(select(AuditLog))).all()) == audit_before


async def test_org_list_under(app: BotApp, db_url: str) -> None:
    run_cli(["org", "import", "--province", "01"], db_url)
    run_cli(["org", "add-team", "00070", "Thôn 3"], db_url)
    listed = run_cli(["org", "list", "--under", "00070"], db_url)
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == ["00070\tPhường Hoàn Kiếm\t[commune]", "  00070-T01\tThôn 3\t[team]"]


async def test_import_is_idempotent(app: BotApp, db_url: str) -> None:
    first = run_cli(["org", "import", "--province", "01"], db_url)
    assert "126 xã/phường" in first.stdout
    again = run_cli(["org", "import", "--province", "01"], db_url)
    assert "0 tỉnh/thành phố và 0 xã/phường" in again.stdout
    assert await _count_units(app) == 128  # the national unit, the province and its 126 wards


@pytest.mark.parametrize("variable", ["TELEGRAM_BOT_TOKEN", "ZALO_WEBHOOK_SECRET", "LINK_SIGNING_SECRET"])
def test_placeholder_secret_rejected_at_start(db_url: str, variable: str) -> None:
    result = run_cli(["console"], db_url, stdin="/huongdan\n", extra_env={variable: "changeme"})
    assert result.returncode == 2
    assert f"Lỗi cấu hình: {variable} vẫn là giá trị mẫu 'changeme'" in result.stderr
    assert "Traceback" not in result.stderr


async def test_demo_creates_realistic_tree_once(app: BotApp, db_url: str) -> None:
    first = run_cli(["demo"], db_url)
    assert first.returncode == 0, first.stderr
    assert "3 xã/phường, 18 tổ" in first.stdout
    again = run_cli(["demo"], db_url)
    assert "đã có sẵn" in again.stdout
    async with app.db.session() as session:
        teams = (await session.exec(select(OrgUnit).where(OrgUnit.level == "team"))).all()
        assert len(teams) == 18
    console = run_cli(["console", "--chat-id", "demo-xa-1", "--user-id", "demo-1"], db_url, stdin="/huongdan\n")
    assert "Nhóm này thuộc: Xã Tân Lập" in console.stdout


async def test_console_shows_messages_queued_for_console_groups(app: BotApp, db_url: str) -> None:
    """A directive typed in the department's console group appears in each commune group's console."""
    assert run_cli(["demo"], db_url).returncode == 0
    staff = run_cli(
        ["console", "--chat-id", "demo-so", "--user-id", "demo-so", "--name", "Cán bộ Sở"],
        db_url,
        stdin="/chidao toàn tỉnh: Rà soát VNeID trước 30/11\n/xacnhan 1\n/tinhtrang 1\n",
    )
    assert staff.returncode == 0, staff.stderr
    for group in ("demo-xa-1", "demo-xa-2", "demo-xa-3"):
        assert f"[bot gửi tới {group}] 📢 CHỈ ĐẠO SỐ 1\nRà soát VNeID trước 30/11" in staff.stdout
    assert "Nhóm: 3 đã nhận tin, 0 lỗi, 0 đang gửi." in staff.stdout


def test_tick_dry_run_prints_everything_and_queues_nothing(app: BotApp, db_url: str) -> None:
    """A trial in the future: --dry-run shows each message in full; without it the tick asks for --yes."""
    assert run_cli(["demo"], db_url).returncode == 0
    monday = "2030-01-07 07:00"  # the Monday digest hour, years ahead
    refused = run_cli(["tick", "--at", monday], db_url)
    assert refused.returncode != 0 and "ở tương lai" in refused.stderr and "--dry-run" in refused.stderr
    dry = run_cli(["tick", "--at", monday, "--dry-run"], db_url)
    assert dry.returncode == 0, dry.stderr
    assert "tin sẽ được xếp hàng, chưa xếp hàng tin nào" in dry.stdout
    assert "[digest → " in dry.stdout and "BÁO CÁO" in dry.stdout
    assert not set("\x1d\x1e\x1f") & set(dry.stdout)  # no internal mention marker reaches the operator
    again = run_cli(["tick", "--at", monday, "--dry-run"], db_url)
    # Nothing was queued the first time: the second rehearsal would queue the same messages again.
    assert again.stdout.count("[digest → ") == dry.stdout.count("[digest → ") > 0


def test_tick_yes_at_a_future_moment_prints_what_is_due_then(app: BotApp, db_url: str) -> None:
    """`tick --yes` at a future Monday: the console groups' digests are printed as they arrive, not held."""
    assert run_cli(["demo"], db_url).returncode == 0
    monday = "2030-01-07 07:00"
    ran = run_cli(["tick", "--at", monday, "--yes"], db_url)
    assert ran.returncode == 0, ran.stderr
    assert "[bot gửi tới demo-xa-1]" in ran.stdout and "BÁO CÁO" in ran.stdout
    assert "tin cho nhóm console" in ran.stdout
    again = run_cli(["tick", "--at", monday, "--yes"], db_url)
    # Delivered once: the second run at the same moment finds nothing new due.
    assert "[bot gửi tới demo-xa-1]" not in again.stdout


def test_tick_dry_run_writes_no_report_file(app: BotApp, db_url: str, tmp_path: Path) -> None:
    """The Monday summary a dry run shows comes with its chart and workbook, but none is left on disk."""
    files = tmp_path / "files"
    env = {"FILES_DIR": str(files)}
    assert run_cli(["demo"], db_url, extra_env=env).returncode == 0
    dry = run_cli(["tick", "--at", "2030-01-07 07:30", "--dry-run"], db_url, extra_env=env)
    assert dry.returncode == 0, dry.stderr
    assert "[summary → console:demo-so]" in dry.stdout and "tệp)" in dry.stdout
    assert [p for p in files.rglob("*") if p.is_file()] == []
