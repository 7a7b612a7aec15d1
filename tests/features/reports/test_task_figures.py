"""Reports carry task figures: assignments due in the period, done, and overdue."""

from __future__ import annotations

from tests.factories import ChatHarness, FakeClock, setup_commune
from tocns.app import BotApp


async def test_baocao_counts_due_done_and_overdue(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)  # Monday 23/11/2026
    assert "#1" in await chat.text("/giaoviec 24/11 Rà soát hộ nghèo tổ thon 1", user="10")
    assert "#2" in await chat.text("/giaoviec 26/11 Tập huấn VNeID tất cả", user="10")
    assert "#3" in await chat.text("/giaoviec 10/12 Việc tháng sau tổ thon 3", user="10")
    clock.set_local("2026-11-25 09:00")
    done = await chat.text("/xong 2 đã xong", user="20")  # Thôn 1 completes its part of #2
    assert "hoàn thành việc #2: “Tập huấn VNeID” (1/3 xong)" in done

    commune_report = await chat.text("/baocao tuan", user="10")
    # #1: Thôn 1 (overdue since 24/11); #2: three teams, Thôn 1 done, two not yet due; #3 is next month.
    assert "Nhiệm vụ: 4 đến hạn, 1 hoàn thành, 1 quá hạn" in commune_report

    clock.set_local("2026-11-27 09:00")
    later = await chat.text("/baocao tuan", user="10")
    assert "Nhiệm vụ: 4 đến hạn, 1 hoàn thành, 3 quá hạn" in later

    cancelled = await chat.text("/huyviec 1", user="10")
    assert cancelled.startswith("Đã huỷ việc #1: “Rà soát hộ nghèo”. Sẽ không còn nhắc việc này.")
    assert "Nhiệm vụ: 3 đến hạn, 1 hoàn thành, 2 quá hạn" in await chat.text("/baocao tuan", user="10")
