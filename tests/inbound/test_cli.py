"""`tocns inbound failed` and `tocns inbound retry`, run as an operator runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from tests.cli.test_cli import run_cli
from tests.fakes.platforms import (
    channels_for,
    inbound_rows,
    outbox,
    platform_app,
    platform_settings,
    tg_message_update,
)
from tests.fakes.zalo_api import FakeZaloApi
from tocns.app import BotApp
from tocns.config import Settings
from tocns.core.router import INTERNAL_ERROR_TEXT
from tocns.db.audit import AuditLog


@pytest.fixture
def qapp(app: BotApp, settings: Settings, tmp_path: Path) -> BotApp:
    """The bot with both platforms and a single attempt per update (parked at the first failure)."""
    return platform_app(app, platform_settings(settings, tmp_path).model_copy(update={"inbound_max_attempts": 1}))


async def _parked(qapp: BotApp, text: str, chat_id: int) -> int:
    """Store an update and fail its only attempt: it is parked."""
    telegram = channels_for(qapp, None, FakeZaloApi())[0]
    qapp.pipeline.add(telegram)
    original = qapp.router.handle

    async def broken(session: Any, msg: Any) -> Any:
        raise RuntimeError('relation "activity_item" does not exist\nLINE 1: SELECT ...')

    qapp.router.handle = broken  # type: ignore[method-assign]
    checked = telegram.check(tg_message_update(text, chat_id=chat_id))
    row_id = await qapp.pipeline.store(telegram, checked)
    assert row_id is not None
    assert await qapp.pipeline.process(telegram, row_id, checked) is False
    qapp.router.handle = original  # type: ignore[method-assign]
    return row_id


async def test_failed_lists_parked_updates_without_what_people_wrote(qapp: BotApp, db_url: str) -> None:
    first = await _parked(qapp, "/ghi vneid 3 họp với bà Nguyễn Thị Hoa", -1001)
    second = await _parked(qapp, "/huongdan", -2002)
    listed = run_cli(["inbound", "failed"], db_url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:2] == ["SỐ", "NỀN"]
    assert lines[1].split()[:3] == [str(first), "telegram", "-1001"]
    assert lines[2].split()[:3] == [str(second), "telegram", "-2002"]
    # Received at (local time), attempts, the error's first line only; never the message or the sender's name.
    assert "09:00 23/11/2026" in lines[1] and lines[1].split()[5] == "1"
    assert lines[1].endswith('RuntimeError: relation "activity_item" does not exist')
    assert not {"Hoa", "vneid", "Lan", "Nguyễn"} & set(listed.stdout.replace("(", " ").split())
    assert "2 bản tin lỗi" in listed.stderr and "tocns inbound retry" in listed.stderr


async def test_retry_puts_a_parked_update_back_and_the_bot_processes_it(qapp: BotApp, db_url: str) -> None:
    row_id = await _parked(qapp, "/huongdan", -1001)
    assert [m.text for m in await outbox(qapp)] == [INTERNAL_ERROR_TEXT.format(name="huongdan")]
    retried = run_cli(["inbound", "retry", str(row_id)], db_url)
    assert retried.returncode == 0, retried.stderr
    assert f"Đã đưa 1 bản tin về hàng chờ (số {row_id})" in retried.stdout
    [row] = await inbound_rows(qapp)
    assert (row.state, row.attempts) == ("pending", 0)
    assert await qapp.pipeline.recover() == 1  # what the running bot's loop does within a second
    assert [r.state for r in await inbound_rows(qapp)] == ["done"]
    texts = [m.text for m in await outbox(qapp)]
    assert len(texts) == 2 and "Các lệnh bạn dùng được" in texts[1]
    async with qapp.db.session() as session:
        audit = (await session.exec(select(AuditLog))).all()
    assert [(a.action, a.entity_id, a.actor_label) for a in audit] == [("inbound_retry", str(row_id), "operator-cli")]
    empty = run_cli(["inbound", "failed"], db_url)
    assert empty.returncode == 0 and "Không có bản tin lỗi nào. Đang chờ xử lý: 0." in empty.stdout


async def test_retry_all_and_an_unknown_number(qapp: BotApp, db_url: str) -> None:
    ids = [await _parked(qapp, "/huongdan", -1001 - n) for n in range(3)]
    unknown = run_cli(["inbound", "retry", "999"], db_url)
    assert unknown.returncode == 1
    assert "Không có bản tin lỗi số 999" in unknown.stderr and "tocns inbound failed" in unknown.stderr
    everything = run_cli(["inbound", "retry", "--all"], db_url)
    assert everything.returncode == 0, everything.stderr
    assert f"Đã đưa 3 bản tin về hàng chờ (số {', '.join(map(str, ids))})" in everything.stdout
    assert {r.state for r in await inbound_rows(qapp)} == {"pending"}
    again = run_cli(["inbound", "retry", "--all"], db_url)
    assert again.returncode == 0 and "Không có bản tin lỗi nào để xử lý lại." in again.stdout
    assert run_cli(["inbound", "retry"], db_url).returncode == 2  # a number or --all
