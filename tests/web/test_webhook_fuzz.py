"""Fuzzed webhook bodies never produce a 500; /metrics reports in Prometheus format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.fakes.platforms import (
    TG_HEADER,
    TG_SECRET,
    ZALO_HEADER,
    ZALO_SECRET,
    channels_for,
    platform_app,
    platform_settings,
    tg_message_update,
    web,
    zalo_update,
)
from tests.fakes.telegram_server import TelegramServer
from tests.fakes.zalo_api import FakeZaloApi
from tocns.app import BotApp
from tocns.config import Settings

ROUTES = [("/webhook/telegram", {TG_HEADER: TG_SECRET}), ("/webhook/zalo", {ZALO_HEADER: ZALO_SECRET})]

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
)
# Near-valid shapes: real updates with parts replaced by junk, where parsers are most likely to trip.
near_telegram = st.builds(
    lambda junk, key, text: {**tg_message_update(text), key: junk},
    json_values,
    st.sampled_from(["message", "edited_message", "my_chat_member", "update_id", "channel_post"]),
    st.text(max_size=30),
)
near_zalo = st.builds(
    lambda junk, key, text: {"ok": True, "result": {**zalo_update(text, wrapped=False), key: junk}},
    json_values,
    st.sampled_from(["message", "event_name"]),
    st.text(max_size=30),
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    near_telegram.map(lambda v: json.dumps(v).encode()),
    near_zalo.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, route=st.sampled_from(ROUTES))
async def test_fuzzed_bodies_never_500(
    app: BotApp,
    settings: Settings,
    tmp_path: Path,
    tg_server: TelegramServer,
    body: bytes,
    route: tuple[str, dict[str, str]],
) -> None:
    papp = platform_app(app, platform_settings(settings, tmp_path))
    channels: list[Any] = list(channels_for(papp, tg_server, FakeZaloApi()))
    path, headers = route
    async with web(papp, channels) as (client, _):
        response = await client.post(path, content=body, headers=headers)
    assert response.status_code in (200, 400), (response.status_code, body)


async def test_metrics_in_prometheus_format(
    app: BotApp, settings: Settings, tmp_path: Path, tg_server: TelegramServer
) -> None:
    papp = platform_app(app, platform_settings(settings, tmp_path))
    channels: list[Any] = list(channels_for(papp, tg_server, FakeZaloApi()))
    async with web(papp, channels) as (client, web_app):
        await client.post("/webhook/telegram", json=tg_message_update("/huongdan"), headers=ROUTES[0][1])
        await client.post("/webhook/zalo", content=b"{bad", headers=ROUTES[1][1])
        await web_app.state.pipeline.drain()
        response = await client.get("/metrics")
        health = await client.get("/healthz")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'tocns_updates_received_total{outcome="new",platform="telegram"}' in text
    assert 'tocns_commands_total{name="huongdan",outcome="ok"}' in text
    assert 'tocns_errors_total{kind="webhook_400"}' in text
    assert "tocns_outbox_depth 1.0" in text
    assert "tocns_send_latency_seconds" in text
    assert health.json() == {"status": "ok", "database": "ok"}
