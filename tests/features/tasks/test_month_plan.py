"""A month of simulated time driven by `tick`: the exact reminders and escalations, in order."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.factories import VN, ChatHarness, FakeClock, outbox_rows, setup_commune, tick
from tocns.app import BotApp

GROUP = "console:group-1"


def _expected() -> list[tuple[str, str]]:
    """What the rules say, written out by hand (reminders at 08:00; 24/11 is a public holiday)."""
    return [
        # #1 due Fri 27/11 to @binh and Lan, written Mon 23/11 09:00: 3 days before falls on the 24/11 holiday and
        # moves earlier, to 23/11 (the day it was written), so it goes at the first tick.
        ("23/11 10:00", "nhắc việc #1 (before3)"),
        ("26/11 08:00", "nhắc việc #1 (before1)"),
        ("27/11 08:00", "nhắc việc #1 (due)"),
        ("28/11 08:00", "nhắc việc #1 (overdue)"),  # day 1
        ("29/11 08:00", "báo lãnh đạo việc #1"),  # no overdue reminder on day 2
        ("30/11 08:00", "nhắc việc #1 (overdue)"),  # day 3; Bình completes at 09:00: nothing after
        # #3 due Fri 04/12 to every team, never completed: days 1, 3, 7 and 14 after, one escalation.
        ("01/12 08:00", "nhắc việc #3 (before3)"),
        ("03/12 08:00", "nhắc việc #3 (before1)"),
        ("04/12 08:00", "nhắc việc #3 (due)"),
        ("05/12 08:00", "nhắc việc #3 (overdue)"),
        ("06/12 08:00", "báo lãnh đạo việc #3"),
        ("07/12 08:00", "nhắc việc #3 (overdue)"),
        ("11/12 08:00", "nhắc việc #3 (overdue)"),
        # #2 due Tue 15/12: 3 days before is Saturday 12/12, moved to Friday 11/12.
        ("11/12 08:00", "nhắc việc #2 (before3)"),
        ("14/12 08:00", "nhắc việc #2 (before1)"),
        ("15/12 08:00", "nhắc việc #2 (due)"),  # Thôn 1 completes at 10:00: nothing after
        ("18/12 08:00", "nhắc việc #3 (overdue)"),
    ]


async def test_a_month_of_ticks_sends_exactly_the_rules(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    await setup_commune(app, chat, clock)  # Monday 23/11/2026 09:00
    assert "#1" in await chat.text("/giaoviec 27/11 Rà soát hộ chưa có VNeID @binh @Lan", user="10")
    assert "#2" in await chat.text("/giaoviec 15/12 Hướng dẫn sổ sức khỏe điện tử tổ thon 1", user="10")
    assert "#3" in await chat.text("/giaoviec 04/12 Tập huấn an toàn thông tin tất cả", user="10")
    actions = {
        "25/11 10:00": ("/xong 1", "21"),  # Lan
        "30/11 09:00": ("/xong 1 đã rà soát 25 hộ", "31"),  # Bình
        "15/12 10:00": ("/xong 2", "20"),  # Minh, leader of Thôn 1, for his team
    }
    sent: list[tuple[str, str]] = []
    moment = datetime(2026, 11, 23, 10, 0, tzinfo=VN)
    while moment <= datetime(2026, 12, 20, 23, 0, tzinfo=VN):
        label = moment.strftime("%d/%m %H:%M")
        for line in await tick(app, clock, moment.strftime("%Y-%m-%d %H:%M")):
            if line.startswith(("nhắc việc", "báo lãnh đạo")):
                sent.append((label, line.split(" → ")[0]))
                assert line.endswith(GROUP)
        if label in actions:
            text, user = actions[label]
            clock.set_local(moment.strftime("%Y-%m-%d %H:%M"))
            assert f"hoàn thành việc #{text.split()[1]}:" in await chat.text(text, user=user)
        moment += timedelta(hours=1)

    assert sent == _expected()
    reminders = await outbox_rows(app, "reminder")
    assert len(reminders) == len([r for r in _expected() if r[1].startswith("nhắc việc")])
    # Nothing between 21:00 and 07:00, ever.
    assert all(7 <= int(label[6:8]) < 21 for label, _ in sent)
    # After Lan completed, #1's reminders name only Bình.
    after_lan = [r.text for r in reminders if r.text.startswith("⏰ Nhắc việc #1")][1:]
    assert after_lan and all("Lan" not in text and "@binh" in text for text in after_lan)
