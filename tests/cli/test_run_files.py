"""Issue 16: `tocns run` (polling) serves /files when PUBLIC_BASE_URL is set; otherwise Zalo gets a line per file."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.factories import free_port
from tests.fakes.platforms import platform_app, platform_settings
from tests.fakes.zalo_api import FakeZaloApi
from tocns.app import BotApp, build_transports
from tocns.channels.base import SendStatus
from tocns.channels.zalo import ZaloTransport
from tocns.cli.chat import files_served_by_run, serve_files
from tocns.config import Settings
from tocns.core.messages import Attachment

CHART = Attachment("bieu-do.png", b"\x89PNG fake chart", "image/png")
WORKBOOK = Attachment("bao-cao-tuan.xlsx", b"PK" + b"x" * 3000, "application/vnd.ms-excel")


def test_files_are_served_only_when_a_public_base_url_was_set() -> None:
    secret = "run-files-link-secret-0123456789"
    assert not files_served_by_run(Settings(_env_file=None, link_signing_secret=secret))  # type: ignore[call-arg]
    public = {"public_base_url": "https://bot.xa.vn", "link_signing_secret": secret}
    assert files_served_by_run(Settings(_env_file=None, **public))  # type: ignore[call-arg]
    assert not files_served_by_run(Settings(_env_file=None, public_base_url="https://bot.xa.vn"))  # type: ignore[call-arg]


async def test_run_serves_the_links_it_sends_to_zalo(app: BotApp, settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    zsettings = Settings(
        **{**platform_settings(settings, tmp_path).model_dump(), "http_host": "127.0.0.1", "http_port": port}
    )
    assert "public_base_url" in zsettings.model_fields_set
    papp = platform_app(app, zsettings)
    zalo = FakeZaloApi(known_chats={"zuser-1"})
    transport = ZaloTransport(papp.settings, client=zalo.client(), clock=papp.clock)
    assert (await transport.send("zuser-1", "Báo cáo tuần", [WORKBOOK])).status == SendStatus.OK
    link = zalo.sent()[0]["text"].split(": ", 1)[1].strip()
    assert link.startswith("https://bot.example.vn/files/")
    server = await serve_files(papp)
    assert server is not None
    try:
        async with httpx.AsyncClient() as client:
            local = link.replace("https://bot.example.vn", f"http://127.0.0.1:{port}")
            got = await client.get(local)
            forged = await client.get(local.replace("sig=", "sig=0"))
    finally:
        await server.stop()
    assert got.status_code == 200 and got.content == WORKBOOK.content
    assert forged.status_code == 403


async def test_without_a_files_server_zalo_gets_a_summary_line_per_file(
    app: BotApp, settings: Settings, tmp_path: Path
) -> None:
    """A signing secret alone is not enough: with nothing answering /files a link would be dead."""
    papp = platform_app(app, platform_settings(settings, tmp_path))
    zalo = FakeZaloApi(known_chats={"zgroup-1"}, can_join_groups=True, groups={"zgroup-1"})
    transports = build_transports(papp.settings, files_served=False)
    transport = transports["zalo"]
    assert isinstance(transport, ZaloTransport)
    transport.api.client = zalo.client()
    result = await transport.send("zgroup-1", "Báo cáo tuần: 12 phiếu, 3 tổ chưa báo cáo.", [CHART, WORKBOOK])
    assert result.status == SendStatus.OK
    text = zalo.sent()[0]["text"]
    assert text.startswith("Báo cáo tuần: 12 phiếu, 3 tổ chưa báo cáo.")
    assert "📎 bieu-do.png: chưa gửi được qua Zalo (ảnh, 15 byte;" in text
    assert "📎 bao-cao-tuan.xlsx: chưa gửi được qua Zalo (bảng tính Excel, 3 KB;" in text
    assert "Nội dung chính có trong tin nhắn này" in text
    assert "http" not in text and zalo.sent("sendPhoto") == []
