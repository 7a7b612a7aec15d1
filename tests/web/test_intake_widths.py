"""An update with a field wider than the column it is stored in is refused at intake (400, nothing stored), never
accepted and then failed on every attempt while its chat waits; one at the limit is processed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.platforms import (
    TG_HEADER,
    TG_SECRET,
    ZALO_HEADER,
    ZALO_SECRET,
    channels_for,
    inbound_rows,
    outbox,
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
from tocns.core.messages import FIELD_WIDTHS
from tocns.features.activity.models import ActivityRecord
from tocns.features.org.models import ChatBinding, Person
from tocns.features.tasks.models import Task
from tocns.inbound.models import ProcessedMessage


def _tg(**changes: Any) -> dict[str, Any]:
    body = tg_message_update("/huongdan")
    message = body["message"]
    for path, value in changes.items():
        target = message
        *parents, leaf = path.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return body


def _zalo(**changes: Any) -> dict[str, Any]:
    body = zalo_update("/huongdan")
    message = body["result"]["message"]
    for path, value in changes.items():
        parent, leaf = path.split("__")
        message[parent][leaf] = value
    return body


TOO_WIDE: list[tuple[str, dict[str, Any], str]] = [
    ("telegram", _tg(from__username="u" * 101), "username is 101 characters, over the 100"),
    ("telegram", _tg(from__first_name="L" * 250), "display_name is"),
    ("telegram", _tg(chat__title="T" * 256), "chat_title is 256 characters"),
    ("telegram", _tg(chat__id=-(10**70)), "characters, over the"),
    ("telegram", _tg(from__id=10**70), "user_id is 71 characters, over the 64"),
    ("telegram", _tg(message_id=10**70), "message_id is 71 characters"),
    ("telegram", _tg(message_thread_id=10**40, is_topic_message=True), "thread_id is 41 characters"),
    ("zalo", _zalo(**{"from__display_name": "N" * 201}), "display_name is 201 characters"),
    ("zalo", _zalo(**{"from__id": "z" * 65}), "user_id is 65 characters"),
    ("zalo", _zalo(**{"chat__id": "g" * 101}), "malformed id"),  # the channel's own id check
]


@pytest.mark.parametrize(("platform", "body", "reason"), TOO_WIDE)
async def test_fields_wider_than_their_column_are_400_and_not_stored(
    app: BotApp,
    settings: Settings,
    tmp_path: Path,
    tg_server: TelegramServer,
    platform: str,
    body: dict[str, Any],
    reason: str,
) -> None:
    papp = platform_app(app, platform_settings(settings, tmp_path))
    channels: list[Any] = list(channels_for(papp, tg_server, FakeZaloApi()))
    headers = {TG_HEADER: TG_SECRET} if platform == "telegram" else {ZALO_HEADER: ZALO_SECRET}
    async with web(papp, channels) as (client, _):
        response = await client.post(f"/webhook/{platform}", json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert reason in response.json()["error"]
    assert await inbound_rows(papp) == []


async def test_fields_at_their_width_are_processed(
    app: BotApp, settings: Settings, tmp_path: Path, tg_server: TelegramServer
) -> None:
    papp = platform_app(app, platform_settings(settings, tmp_path))
    channels: list[Any] = list(channels_for(papp, tg_server, FakeZaloApi()))
    body = _tg(from__username="u" * 100, chat__title="T" * 255, from__first_name="L" * 100, from__last_name="N" * 99)
    async with web(papp, channels) as (client, web_app):
        response = await client.post("/webhook/telegram", json=body, headers={TG_HEADER: TG_SECRET})
        await web_app.state.pipeline.drain()
    assert response.status_code == 200
    assert [row.state for row in await inbound_rows(papp)] == ["done"]
    assert len(await outbox(papp)) == 1


def _width(model: Any, column: str) -> int:
    length = getattr(model.__table__.c[column].type, "length", None)
    assert isinstance(length, int), (model, column)
    return length


def test_the_width_table_matches_the_columns() -> None:
    stored_in = {
        "platform": _width(Person, "platform"),
        "chat_id": _width(ChatBinding, "chat_id"),
        "new_chat_id": _width(ChatBinding, "chat_id"),
        "user_id": _width(Person, "user_id"),
        "message_id": _width(ProcessedMessage, "message_id"),
        "display_name": _width(Person, "display_name"),
        "username": _width(Person, "username"),
        "chat_title": _width(ChatBinding, "chat_title"),
        "thread_id": _width(Task, "thread_id"),
        "photo": _width(ActivityRecord, "photo"),
    }
    assert stored_in == FIELD_WIDTHS
