"""A trial install leaves out `tocns[charts]` (matplotlib) and `tocns[postgres]` (asyncpg): what still works, and
the one line that names the missing extra. `.ci/run` also installs without them for real and runs the demo."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.factories import FakeClock
from tests.features.reports.test_jobs import _outbox, _setup
from tocns.app import BotApp
from tocns.cli import main
from tocns.config import get_settings
from tocns.features.reports import jobs as report_jobs
from tocns.features.reports.render import CHARTS_NEED_EXTRA
from tocns.outbox.models import OutboxMessage

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make a package look uninstalled: `import` fails and `find_spec` finds nothing."""

    def hide(name: str) -> None:
        monkeypatch.setitem(sys.modules, name, None)

    return hide


async def test_weekly_summary_without_charts_sends_text_and_excel_and_says_why(
    app: BotApp, clock: FakeClock, tmp_path: Path, without: Callable[[str], None]
) -> None:
    without("matplotlib")
    await _setup(app, tmp_path)
    clock.set_local("2026-11-23 07:30")
    assert len(await report_jobs.weekly_summary(app, clock())) == 4  # per chat: the text, then the files
    queued = await _outbox(app)
    assert all("BÁO CÁO TỈNH THỬ" in row.text for row in queued if not row.attachments)
    rows: dict[str, OutboxMessage] = {r.chat_id: r for r in queued if r.attachments}
    for row in rows.values():
        assert row.text.splitlines()[-1] == CHARTS_NEED_EXTRA
        files = json.loads(row.attachments or "[]")
        assert [f["mime_type"] for f in files] == [XLSX_MIME]
        assert Path(files[0]["path"]).read_bytes().startswith(b"PK")  # the workbook is there all the same
    assert not list((tmp_path / "files").rglob("*.png"))


async def test_weekly_summary_with_charts_has_no_such_line(app: BotApp, clock: FakeClock, tmp_path: Path) -> None:
    await _setup(app, tmp_path)
    clock.set_local("2026-11-23 07:30")
    await report_jobs.weekly_summary(app, clock())
    assert all(CHARTS_NEED_EXTRA not in row.text for row in await _outbox(app))


def test_report_png_without_charts_is_one_line_and_no_file(
    tmp_path: Path, without: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    without("matplotlib")
    target = tmp_path / "bao-cao.png"
    assert main(["report", "00070", "--format", "png", "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == f"Lỗi: {CHARTS_NEED_EXTRA}\n"
    assert "tocns[charts]" in err
    assert not target.exists()


def test_postgres_url_without_asyncpg_names_the_extra(
    tmp_path: Path, without: Callable[[str], None], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    without("asyncpg")
    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://tocns:matkhau-bi-mat@127.0.0.1:5432/tocns")
    get_settings.cache_clear()
    try:
        assert main(["org", "list"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("Lỗi cấu hình: ") and 'pip install "tocns[postgres]"' in err
    assert len(err.strip().splitlines()) == 1
    assert "matkhau-bi-mat" not in err  # the URL's password is never echoed
