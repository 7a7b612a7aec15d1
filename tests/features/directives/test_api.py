"""The directive API (POST/GET /api/v1/directives), as an API client sees it."""

from __future__ import annotations

import asyncio

import httpx
from sqlmodel import select

from tests.factories import ChatHarness, FakeClock, Tree
from tests.features.directives.test_commands import _outbox, _setup
from tocns.app import BotApp
from tocns.features.apitokens.store import create_token
from tocns.features.directives.models import Directive
from tocns.outbox.models import OutboxMessage, OutboxState
from tocns.web.app import create_app


async def _tokens(app: BotApp, tree: Tree) -> tuple[dict[str, str], dict[str, str]]:
    """Authorization headers of a province token (labelled) and a commune (X1) token."""
    async with app.db.session() as session:
        province = await create_token(session, tree.province, app.clock(), label="Sở KH&CN")
        commune = await create_token(session, tree.commune, app.clock())
    return {"Authorization": f"Bearer {province}"}, {"Authorization": f"Bearer {commune}"}


def _client(app: BotApp) -> httpx.AsyncClient:
    web = create_app(app.settings, bot_app=app)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://testserver")


async def _directives(app: BotApp) -> list[Directive]:
    async with app.db.session() as session:
        return list((await session.exec(select(Directive))).all())


async def test_post_sends_like_chidao_and_get_reports_status(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    tree = await _setup(app, chat, clock)
    province, _commune = await _tokens(app, tree)
    async with _client(app) as client:
        created = await client.post(
            "/api/v1/directives", json={"text": "Rà soát số hộ đã cài VNeID trước 30/11/2026"}, headers=province
        )
        assert created.status_code == 201, created.text
        assert created.json() == {
            "id": 1,
            "scope": "toàn tỉnh",
            "targets": 3,
            "people": 0,
            "communes": 2,
            "unreached_communes": [],
            "status_url": "/api/v1/directives/1",
        }
        rows = await _outbox(app)
        assert sorted(r.chat_id for r in rows) == ["g-x1", "g-x1-t1", "g-x2"]
        assert {r.kind for r in rows} == {"directive"}
        assert "CHỈ ĐẠO SỐ 1\nRà soát số hộ đã cài VNeID trước 30/11/2026" in rows[0].text
        assert "Người gửi: Sở KH&CN, 09:00 23/11/2026." in rows[0].text and "Trả lời /danhan 1" in rows[0].text
        # The groups acknowledge it with the same command as a /chidao directive.
        clock.advance(minutes=12)
        assert "đã nhận chỉ đạo số 1 lúc 09:12 23/11/2026" in await chat.text("/danhan 1", user="10", chat="g-x1")
        async with app.db.session() as session:
            for row in (await session.exec(select(OutboxMessage))).all():
                failed = row.chat_id == "g-x2"
                row.state = OutboxState.FAILED if failed else OutboxState.SENT
                row.last_error = "bị chặn hoặc bị xoá khỏi nhóm" if failed else None
                session.add(row)
        status = await client.get("/api/v1/directives/1", headers=province)
        assert status.status_code == 200, status.text
        data = status.json()
        assert (data["delivered"], data["failed"], data["pending"], data["acknowledged_communes"]) == (2, 1, 0, 1)
        x1, x2 = data["communes"]
        assert (x1["code"], x1["groups"], x1["delivered"], x1["acknowledged"]["by"]) == ("X1", 2, 2, "Hùng")
        assert x1["acknowledged"]["at"].startswith("2026-11-23T02:12")
        assert (x2["code"], x2["failed"], x2["failures"], x2["acknowledged"]) == (
            "X2",
            1,
            ["bị chặn hoặc bị xoá khỏi nhóm"],
            None,
        )
        assert data["not_acknowledged"] == [{"code": "X2", "name": "Xã Hòa Bình"}]
        # /tinhtrang shows the same directive the same way.
        assert "Nhóm: 2 đã nhận tin, 1 lỗi, 0 đang gửi." in await chat.text(
            "/tinhtrang 1", user="1", private=True, chat="p1"
        )


async def test_scope_forms_match_chidao(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    tree = await _setup(app, chat, clock)
    province, _commune = await _tokens(app, tree)
    async with _client(app) as client:
        by_name = await client.post("/api/v1/directives", json={"text": "Họp", "scope": "hoa binh"}, headers=province)
        assert by_name.status_code == 201 and by_name.json()["scope"] == "Xã Hòa Bình (X2)"
        assert by_name.json()["targets"] == 1
        unit_body = {"text": "Báo cáo", "scope": "đơn vị P01"}
        by_unit = await client.post("/api/v1/directives", json=unit_body, headers=province)
        assert by_unit.json()["targets"] == 3 and by_unit.json()["scope"] == "các xã thuộc Tỉnh Thử (P01)"
        codes = await client.post("/api/v1/directives", json={"text": "Họp", "scope": "X1, x2"}, headers=province)
        assert codes.json()["targets"] == 3
        whole = await client.post("/api/v1/directives", json={"text": "Họp", "scope": "Toan tinh"}, headers=province)
        assert whole.json()["scope"] == "toàn tỉnh"
    assert [r.chat_id for r in await _outbox(app)][:1] == ["g-x2"]
    assert len(await _outbox(app)) == 1 + 3 + 3 + 3


async def test_bad_requests_send_nothing(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    tree = await _setup(app, chat, clock)
    province, _commune = await _tokens(app, tree)
    async with _client(app) as client:
        post = client.post
        missing = await post("/api/v1/directives", json={"scope": "X1"}, headers=province)
        assert missing.status_code == 422 and "Thiếu nội dung chỉ đạo" in missing.json()["detail"]
        blank = await post("/api/v1/directives", json={"text": "  "}, headers=province)
        assert blank.status_code == 422 and "Thiếu nội dung chỉ đạo" in blank.json()["detail"]
        long = await post("/api/v1/directives", json={"text": "a" * 4001}, headers=province)
        assert long.status_code == 422
        assert long.json()["detail"] == (
            "Nội dung chỉ đạo dài 4.001 ký tự, tối đa 4.000 ký tự. Hãy rút gọn. Chưa gửi gì."
        )
        assert (await post("/api/v1/directives", json={"text": "a" * 4000}, headers=province)).status_code == 201
        unknown = await post("/api/v1/directives", json={"text": "Họp", "scope": "X1, Xã Không Có"}, headers=province)
        assert unknown.status_code == 422
        assert "Không tìm thấy xã/đơn vị «Xã Không Có»." in unknown.json()["detail"]
        # The scope caps of the chat: 3,000 unknown names used to take 38 s and answer 126 KB.
        many = ", ".join(f"Xã {i}" for i in range(3000))
        capped = await post("/api/v1/directives", json={"text": "Họp", "scope": many}, headers=province)
        assert capped.status_code == 422 and "tối đa 200 tên và 2000 ký tự" in capped.json()["detail"]
        assert len(capped.content) < 1000
        # Even a word that does not look like a scope is refused: the API has a scope field, not a heading.
        heading = await post("/api/v1/directives", json={"text": "Họp", "scope": "Lưu ý"}, headers=province)
        assert heading.status_code == 422
        not_json = await post("/api/v1/directives", content=b"{text: 1", headers=province)
        assert not_json.status_code == 422 and "Yêu cầu không hợp lệ" in not_json.json()["detail"]
        number = await post("/api/v1/directives", json={"text": 5}, headers=province)
        assert number.status_code == 422 and "text" in number.json()["detail"]
        assert (await post("/api/v1/directives", json={"text": "Họp"})).status_code == 401
        bad = {"Authorization": "Bearer tocns_wrong"}
        unauthorised = await post("/api/v1/directives", json={"text": "Họp"}, headers=bad)
        assert unauthorised.status_code == 401 and "API token" in unauthorised.json()["detail"]
    # Only the one 4,000-character directive went out.
    assert len(await _directives(app)) == 1 and len(await _outbox(app)) == 3


async def test_token_acts_with_its_units_role_like_the_chat(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    """One authority rule: a commune token acts as the commune's leader, who may not /chidao in a chat, so it
    cannot POST a directive (issue 22: groups once got "CHỈ ĐẠO SỐ 7 … Người gửi: Xã Hòa An"); it reads the
    status of its own communes' part, as /tinhtrang shows a commune leader."""
    tree = await _setup(app, chat, clock)
    province, commune = await _tokens(app, tree)
    async with _client(app) as client:
        own = await client.post("/api/v1/directives", json={"text": "Họp xã"}, headers=commune)
        assert own.status_code == 403
        assert own.json()["detail"] == (
            "Token của Xã Tân Lập (X1) hành động với vai trò Lãnh đạo xã/phường; việc này như lệnh /chidao trong "
            "chat, chỉ dành cho: Cán bộ Sở, Quản trị viên. Chưa làm gì."
        )
        keyed = await client.post(
            "/api/v1/directives", json={"text": "Họp xã"}, headers={**commune, "Idempotency-Key": "k"}
        )
        assert keyed.status_code == 403
        assert await _outbox(app) == [] and await _directives(app) == []
        # The chat says the same to the commune's leader.
        assert "Bạn không có quyền dùng lệnh /chidao" in await chat.text("/chidao X1: Họp", user="10", chat="g-x1")
        only_x1 = await client.post("/api/v1/directives", json={"text": "Họp", "scope": "X1"}, headers=province)
        assert only_x1.status_code == 201 and only_x1.json()["id"] == 1
        wide = await client.post("/api/v1/directives", json={"text": "Toàn tỉnh"}, headers=province)
        assert wide.json()["id"] == 2
        only_x2 = await client.post("/api/v1/directives", json={"text": "Họp", "scope": "X2"}, headers=province)
        assert only_x2.json()["id"] == 3
        assert (await client.get("/api/v1/directives/1", headers=commune)).status_code == 200
        assert (await client.get("/api/v1/directives/1", headers=province)).status_code == 200
        part = await client.get("/api/v1/directives/2", headers=commune)
        assert part.status_code == 200 and [c["code"] for c in part.json()["communes"]] == ["X1"]
        refused = await client.get("/api/v1/directives/3", headers=commune)
        assert refused.status_code == 403 and "Xã Tân Lập" in refused.json()["detail"]
        missing = await client.get("/api/v1/directives/99", headers=province)
        assert missing.status_code == 404 and "Không có chỉ đạo số 99" in missing.json()["detail"]
        assert (await client.get("/api/v1/directives/1")).status_code == 401
    assert len(await _outbox(app)) == 2 + 3 + 1


async def test_idempotency_key_returns_the_same_directive(app: BotApp, chat: ChatHarness, clock: FakeClock) -> None:
    tree = await _setup(app, chat, clock)
    province, _commune = await _tokens(app, tree)
    body = {"text": "Kiểm tra điểm phát sóng", "scope": "X1"}
    async with _client(app) as client:
        first = await client.post("/api/v1/directives", json=body, headers={**province, "Idempotency-Key": "req-1"})
        retry = await client.post("/api/v1/directives", json=body, headers={**province, "Idempotency-Key": "req-1"})
        assert first.status_code == retry.status_code == 201
        assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"
        changed = await client.post(
            "/api/v1/directives", json={"text": "Khác"}, headers={**province, "Idempotency-Key": "req-1"}
        )
        assert changed.status_code == 422 and "đã dùng cho một chỉ đạo khác (số 1)" in changed.json()["detail"]
        # Keys belong to a token: another system's "req-1" is its own.
        async with app.db.session() as session:
            other = {"Authorization": f"Bearer {await create_token(session, tree.province, app.clock())}"}
        theirs = await client.post("/api/v1/directives", json=body, headers={**other, "Idempotency-Key": "req-1"})
        assert theirs.json()["id"] == 2
        # Two retries racing each other still make one directive.
        racing = await asyncio.gather(
            *(
                client.post("/api/v1/directives", json=body, headers={**province, "Idempotency-Key": "req-2"})
                for _ in range(3)
            )
        )
        assert {r.status_code for r in racing} == {201} and len({r.json()["id"] for r in racing}) == 1
    assert len(await _directives(app)) == 3
    assert len(await _outbox(app)) == 2 * 3


async def test_openapi_documents_both_endpoints(app: BotApp) -> None:
    async with _client(app) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    post = paths["/api/v1/directives"]["post"]
    examples = post["requestBody"]["content"]["application/json"]["examples"]
    assert examples["một số xã"]["value"]["scope"] == "00070, Tân Lập"
    assert "Idempotency-Key" in [p["name"] for p in post["parameters"]]
    assert {"201", "401", "403", "422"} <= set(post["responses"])
    get = paths["/api/v1/directives/{directive_id}"]["get"]
    assert get["responses"]["200"]["content"]["application/json"]["example"]["not_acknowledged"]
