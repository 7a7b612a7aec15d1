"""The fake Zalo Bot Platform refuses what the real server refuses (../shared/platforms/zalo.md §6)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.platforms import zalo_update
from tests.fakes.zalo_api import BASE, TOKEN, FakeZaloApi


async def _call(fake: FakeZaloApi, method: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    async with fake.client() as client:
        response = await client.post(f"{BASE}/bot{TOKEN}/{method}", json=payload or {})
    body: dict[str, Any] = response.json()
    return body


async def test_get_me_says_the_bot_cannot_join_groups_by_default() -> None:
    result = (await _call(FakeZaloApi(), "getMe"))["result"]
    assert result["can_join_groups"] is False and result["account_type"] == "BASIC"
    assert (await _call(FakeZaloApi(can_join_groups=True), "getMe"))["result"]["can_join_groups"] is True


@pytest.mark.parametrize(
    "payload",
    [
        {"url": "https://bot.example.vn/webhook/zalo", "secret_token": "short"},
        {"url": "https://bot.example.vn/webhook/zalo", "secret_token": "x" * 257},
        {"url": "https://bot.example.vn/webhook/zalo"},
        {"url": "http://bot.example.vn/webhook/zalo", "secret_token": "long-enough-secret"},
        {"secret_token": "long-enough-secret"},
    ],
)
async def test_set_webhook_refuses_a_short_secret_or_a_plain_http_url(payload: dict[str, Any]) -> None:
    fake = FakeZaloApi()
    body = await _call(fake, "setWebhook", payload)
    assert body["ok"] is False and body["error_code"] == 400
    assert (await _call(fake, "getWebhookInfo"))["result"]["url"] == ""


async def test_get_updates_is_refused_while_a_webhook_is_set() -> None:
    fake = FakeZaloApi()
    fake.updates.append(zalo_update("xin chào", private=True)["result"])
    await _call(fake, "setWebhook", {"url": "https://bot.example.vn/webhook/zalo", "secret_token": "8-chars!"})
    refused = await _call(fake, "getUpdates")
    assert refused["ok"] is False and refused["error_code"] == 400
    await _call(fake, "deleteWebhook")
    assert (await _call(fake, "getUpdates"))["result"]["message"]["text"] == "xin chào"


async def test_empty_caption_is_refused() -> None:
    fake = FakeZaloApi()
    photo = {"chat_id": "zuser-1", "photo": "https://bot.example.vn/files/a.png"}
    assert (await _call(fake, "sendPhoto", {**photo, "caption": ""}))["error_code"] == 400
    assert (await _call(fake, "sendPhoto", photo))["ok"] is True


async def test_a_bot_that_cannot_join_groups_is_in_none() -> None:
    fake = FakeZaloApi(groups={"zgroup-1"})
    group, private = zalo_update("@Bot Tổ CNS ghi vneid 5"), zalo_update("ghi vneid 1", private=True)
    fake.updates = [group["result"], private["result"]]
    # The group mention never arrives; the private message does.
    assert (await _call(fake, "getUpdates"))["result"]["message"]["chat"]["chat_type"] == "PRIVATE"
    assert (await _call(fake, "getUpdates"))["error_code"] == 408
    refused = await _call(fake, "sendMessage", {"chat_id": "zgroup-1", "text": "Chỉ đạo"})
    assert refused["ok"] is False and refused["error_code"] == 400
    fake.can_join_groups = True
    assert (await _call(fake, "sendMessage", {"chat_id": "zgroup-1", "text": "Chỉ đạo"}))["ok"] is True


async def test_text_is_limited_to_2000_utf16_units() -> None:
    fake = FakeZaloApi()
    emoji = "📎" * 1001  # 1,001 code points, 2,002 UTF-16 units
    assert (await _call(fake, "sendMessage", {"chat_id": "zuser-1", "text": emoji}))["error_code"] == 400
    assert (await _call(fake, "sendMessage", {"chat_id": "zuser-1", "text": "📎" * 1000}))["ok"] is True
    assert (await _call(fake, "sendMessage", {"chat_id": "zuser-1", "text": ""}))["error_code"] == 400


async def test_quota_exceeded_answers_429_until_cleared() -> None:
    fake = FakeZaloApi()
    fake.quota_exceeded = True
    assert await _call(fake, "sendMessage", {"chat_id": "zuser-1", "text": "a"}) == {
        "ok": False,
        "error_code": 429,
        "description": "Quota exceeded",
    }
    fake.quota_exceeded = False
    assert (await _call(fake, "sendMessage", {"chat_id": "zuser-1", "text": "a"}))["ok"] is True
