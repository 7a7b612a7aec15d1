"""The activity export's rows come from the database in batches (a server-side cursor), every item once, in order,
each named by its units from the province down."""

from __future__ import annotations

from tests.factories import MEMBER, ChatHarness, FakeClock, setup_group
from tocns.app import BotApp
from tocns.features.activity.store import stream_export_rows


async def test_export_rows_stream_in_batches_with_every_item_named_by_its_units(app: BotApp, clock: FakeClock) -> None:
    chat = ChatHarness(app)
    tree = await setup_group(app, chat, clock)
    await chat.text("/ghi vneid 5, dvc 3", user=MEMBER)
    await chat.text("/ghi vneid 4", user=MEMBER)
    await chat.text("/ghi dvc 2, vssid 6", user=MEMBER)
    async with app.db.session() as session:
        batches = [batch async for batch in stream_export_rows(session, batch=2)]
        elsewhere = [batch async for batch in stream_export_rows(session, under=tree.other_commune)]
    assert [len(batch) for batch in batches] == [2, 2, 1]
    rows = [row for batch in batches for row in batch]
    assert [row.quantity for row in rows] == [5, 3, 4, 2, 6]
    assert {row.org_path for row in rows} == {"Tỉnh Thử / Xã Tân Lập / Thôn 3"}
    assert {row.org_codes for row in rows} == {"P01/X1/X1-T02"}
    assert {row.person for row in rows} == {"Lan"}
    assert elsewhere == []  # --org of the other commune: none of these
