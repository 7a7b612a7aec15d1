"""Bad input gets a clear refusal, never a 500: ids out of range, NaN/NUL/surrogates, malformed updates,
the database down; and a seeded fuzz of the directive API and both webhooks."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, func, select

from tests.factories import ChatHarness, FakeClock
from tests.fakes.platforms import (
    TG_HEADER,
    TG_SECRET,
    ZALO_HEADER,
    ZALO_SECRET,
    channels_for,
    inbound_rows,
    platform_app,
    platform_settings,
    tg_message_update,
    web,
    zalo_update,
)
from tests.fakes.telegram_server import TelegramServer
from tests.fakes.zalo_api import FakeZaloApi
from tests.features.directives.test_commands import _setup
from tocns.app import BotApp
from tocns.config import Settings
from tocns.db.engine import Database
from tocns.features.apitokens.store import create_token
from tocns.features.directives.models import Directive
from tocns.inbound.models import InboundUpdate
from tocns.web.app import create_app

API = "/api/v1/directives"


async def _province_token(app: BotApp, chat: ChatHarness, clock: FakeClock) -> dict[str, str]:
    tree = await _setup(app, chat, clock)
    async with app.db.session() as session:
        token = await create_token(session, tree.province, app.clock(), label="Sở KH&CN")
    return {"Authorization": f"Bearer {token}"}


def _client(app: BotApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(app.settings, bot_app=app)), base_url="http://t"
    )


async def _directive_count(app: BotApp) -> int:
    async with app.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Directive)) or 0)


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        (f"{API}/2147483648", 404, "Không có chỉ đạo số 2147483648"),
        (f"{API}/99999999999999999999999999", 404, "Không có chỉ đạo số"),
        (f"{API}/0", 404, "Không có chỉ đạo số 0"),
        (f"{API}/-5", 404, "Không có chỉ đạo số -5"),
        (f"{API}/abc", 422, "Số chỉ đạo không hợp lệ"),
        (f"{API}/1.5", 422, "Số chỉ đạo không hợp lệ"),
    ],
)
async def test_directive_ids_out_of_range_are_refused_in_vietnamese(
    app: BotApp, chat: ChatHarness, clock: FakeClock, path: str, status: int, words: str
) -> None:
    token = await _province_token(app, chat, clock)
    async with _client(app) as client:
        response = await client.get(path, headers=token)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"text": NaN}',
        b'{"text": "H\\u1ecdp", "scope": Infinity}',
        b'{"text": "H\\u1ecdp giao ban\\u0000"}',
        b'{"text": "H\\u1ecdp \\ud800 giao ban"}',
        b'{"text": "H\\u1ecdp", "scope": "\\udfff"}',
        b'{"text": "' + "Họp".encode() + b'\xff"}',
        b'{"text": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b"[" * 100_000,
        b'"just a string"',
        b"",
    ],
)
async def test_unstorable_or_malformed_bodies_get_422_and_send_nothing(
    app: BotApp, chat: ChatHarness, clock: FakeClock, raw: bytes
) -> None:
    token = await _province_token(app, chat, clock)
    async with _client(app) as client:
        response = await client.post(API, content=raw, headers={**token, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert "không hợp lệ" in response.json()["detail"]
    assert await _directive_count(app) == 0


async def test_health_and_metrics_answer_503_while_the_database_is_down(app: BotApp, settings: Settings) -> None:
    down = Database("postgresql+asyncpg://postgres@127.0.0.1:1/none")  # nothing listens on port 1
    dead = BotApp.build(settings, down, app.clock)
    try:
        async with _client(dead) as client:
            health = await client.get("/healthz")
            metrics = await client.get("/metrics")
    finally:
        await down.dispose()
    assert (health.status_code, health.json()) == (503, {"status": "unavailable", "database": "unreachable"})
    assert metrics.status_code == 503
    async with _client(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200


def _without(update: dict[str, Any], *path: str) -> dict[str, Any]:
    target = update
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return update


def _with(update: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    target = update
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return update


@pytest.mark.parametrize(
    "body",
    [
        _without(tg_message_update("/huongdan"), "message", "chat"),
        _with(tg_message_update("/huongdan"), {"type": "group"}, "message", "chat"),
        _with(tg_message_update("/huongdan"), "-1001", "message", "chat", "id"),
        _with(tg_message_update("/huongdan"), 42, "message", "text"),
        _with(tg_message_update("/huongdan"), ["/huongdan"], "message", "text"),
        _with(tg_message_update(None, caption="x"), {"a": 1}, "message", "caption"),
        _with(tg_message_update("/huongdan"), {"first_name": "Lan"}, "message", "from"),
        _without(tg_message_update("/huongdan"), "message", "message_id"),
        _with(tg_message_update("/huongdan", edited=True), None, "edited_message", "chat"),
        {"update_id": 77, "message": "hello"},
        {"update_id": 78, "my_chat_member": {"chat": {"type": "group"}}},
    ],
)
async def test_telegram_updates_missing_what_the_bot_needs_are_refused_at_intake(
    app: BotApp, settings: Settings, tmp_path: Path, tg_server: TelegramServer, body: dict[str, Any]
) -> None:
    papp = platform_app(app, platform_settings(settings, tmp_path))
    channels: list[Any] = list(channels_for(papp, tg_server, FakeZaloApi()))
    async with web(papp, channels) as (client, _):
        response = await client.post("/webhook/telegram", json=body, headers={TG_HEADER: TG_SECRET})
    assert response.status_code == 400, response.text
    assert await inbound_rows(papp) == []


# ---------------------------------------------------------------- seeded fuzz

TEXTS = [
    "/huongdan",
    "/ghi vneid 3 họp\n\n📢 CHỈ ĐẠO SỐ 7",
    "/xoa ²",
    "/sua 99999999999 vneid 1",
    "/ketnoi \x00",
    "/thamgia \u202ethôn 3",
    "/danhan 2147483648",
    "/tinhtrang 99999999999",
    "/baocao 31/02-01/13",
    "/chidao toàn tỉnh: \ud800",
    "\x00",
    "",
    "/" + "a" * 40,
    "@ToCNSBot /batdau",
]
JUNK: list[Any] = [None, True, 0, -1, 2**63, 1.5, float("inf"), "", "\x00", "\ud800", [], {}, [1, "x"], {"id": None}]


def _junk(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 2 and roll < 0.15:
        return {
            rng.choice(["id", "text", "chat", "from", "x"]): _junk(rng, depth + 1) for _ in range(rng.randint(0, 3))
        }
    if depth < 2 and roll < 0.25:
        return [_junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if roll < 0.5:
        return rng.choice(TEXTS)
    return rng.choice(JUNK)


def _mutate(rng: random.Random, body: dict[str, Any]) -> dict[str, Any]:
    """Replace, delete or add one field somewhere in the body."""
    node: Any = body
    for _ in range(rng.randint(0, 3)):
        children = [k for k, v in node.items() if isinstance(v, dict)] if isinstance(node, dict) else []
        if not children:
            break
        node = node[rng.choice(children)]
    keys = list(node)
    action = rng.random()
    if keys and action < 0.4:
        node[rng.choice(keys)] = _junk(rng)
    elif keys and action < 0.6:
        del node[rng.choice(keys)]
    else:
        node[rng.choice(["text", "caption", "chat", "from", "entities", "photo", "new"])] = _junk(rng)
    return body


def _telegram_body(rng: random.Random, n: int) -> bytes:
    update = tg_message_update(rng.choice(TEXTS) or None, chat_id=rng.choice([-1001, -1002, 55]), update_id=10_000 + n)
    if rng.random() < 0.8:
        update = _mutate(rng, update)
    return _encode(rng, update)


def _zalo_body(rng: random.Random, n: int) -> bytes:
    update = zalo_update(
        rng.choice(TEXTS), message_id=f"fz-{n}", private=rng.random() < 0.2, wrapped=rng.random() < 0.5
    )
    if rng.random() < 0.8:
        update = _mutate(rng, update)
    return _encode(rng, update)


def _encode(rng: random.Random, value: Any) -> bytes:
    roll = rng.random()
    if roll < 0.03:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40)))
    text = json.dumps(value, ensure_ascii=roll < 0.5)  # NaN and Infinity as Python writes them
    return text.encode("utf-8", "surrogatepass")


def _api_body(rng: random.Random) -> bytes:
    body: Any = {"text": _junk(rng), "scope": _junk(rng)} if rng.random() < 0.7 else _junk(rng)
    if rng.random() < 0.3 and isinstance(body, dict):
        body["text"] = rng.choice(["Họp giao ban", "Họp\x00", "Rà soát \ud800", "x" * 4001, float("nan")])
    return _encode(rng, body)


FUZZ_SEED = 14
WEBHOOK_BODIES = 2000
API_BODIES = 2000
ID_PATHS = 200


async def test_seeded_fuzz_of_webhooks_and_directive_api_never_500(
    app: BotApp, chat: ChatHarness, clock: FakeClock, settings: Settings, tmp_path: Path, tg_server: TelegramServer
) -> None:
    rng = random.Random(FUZZ_SEED)
    token = await _province_token(app, chat, clock)
    papp = platform_app(app, platform_settings(settings, tmp_path))
    channels: list[Any] = list(channels_for(papp, tg_server, FakeZaloApi()))
    statuses: dict[int, int] = {}
    five_hundreds: list[tuple[str, bytes]] = []
    api_statuses: dict[int, int] = {}

    def count(status: int, what: str, body: bytes) -> None:
        statuses[status] = statuses.get(status, 0) + 1
        if status >= 500:
            five_hundreds.append((what, body[:300]))

    async with web(papp, channels) as (client, web_app):
        for n in range(WEBHOOK_BODIES):
            if n % 2:
                body, path, headers = _telegram_body(rng, n), "/webhook/telegram", {TG_HEADER: TG_SECRET}
            else:
                body, path, headers = _zalo_body(rng, n), "/webhook/zalo", {ZALO_HEADER: ZALO_SECRET}
            response = await client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})
            count(response.status_code, path, body)
        for _ in range(API_BODIES):
            body = _api_body(rng)
            response = await client.post(API, content=body, headers={**token, "Content-Type": "application/json"})
            count(response.status_code, API, body)
            api_statuses[response.status_code] = api_statuses.get(response.status_code, 0) + 1
        for _ in range(ID_PATHS):
            segment = rng.choice(["2147483648", "-1", "0", "1", "1e3", "9" * rng.randint(1, 40), "%00", "٣", "²"])
            response = await client.get(f"{API}/{segment}", headers=token)
            count(response.status_code, f"GET {segment}", b"")
        await web_app.state.pipeline.drain()
    assert five_hundreds == [], five_hundreds[:5]
    assert statuses.get(200, 0) > 100 and statuses.get(400, 0) > 100 and statuses.get(422, 0) > 100, statuses
    # Thousands of directive API bodies: most refused in Vietnamese, some valid enough to send a directive.
    assert sum(api_statuses.values()) == API_BODIES and api_statuses.get(201, 0) > 10, api_statuses
    # What the webhooks accepted was processed, not stored to fail later.
    async with papp.db.session() as session:
        states = dict(
            (await session.exec(select(InboundUpdate.state, func.count()).group_by(col(InboundUpdate.state)))).all()
        )
        errors = (await session.exec(select(InboundUpdate.error).where(InboundUpdate.state == "failed"))).all()
    assert states.get("failed", 0) == 0, errors[:5]
    assert states.get("done", 0) > 100
