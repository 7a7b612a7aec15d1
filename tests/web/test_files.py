"""GET /files refuses NUL and every unnormalised path with 403, even when the signature over it is valid."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tocns.app import BotApp
from tocns.core.files import safe_name, save_attachment
from tocns.core.messages import Attachment
from tocns.core.signed_links import _signature, sign_url
from tocns.web.app import create_app

# Raw request paths after /files/ ; the web server decodes them once.
TRICKS = [
    "abc%00def/x.xlsx",  # NUL: the file system raises on it (500 before)
    "abc/x.xlsx%00.png",
    "..%2f..%2fetc%2fpasswd",
    "abc/../abc/x.xlsx",
    "abc/./x.xlsx",
    "abc//x.xlsx",
    "abc%5cx.xlsx",  # backslash
    "%2fetc%2fpasswd",  # absolute
    "abc/%252e%252e/x.xlsx",  # double-encoded: leaves "%2e" after one decoding
    "abc/x%09.xlsx",  # tab, a control character
]


def _client(app: BotApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(app.settings, bot_app=app)), base_url="http://t"
    )


@pytest.mark.parametrize("raw", TRICKS)
async def test_unnormalised_paths_are_403_even_when_signed(app: BotApp, raw: str) -> None:
    from urllib.parse import unquote

    expires = int(app.clock().timestamp()) + 3600
    # The signature an attacker could only have if the bot had signed this very path: the path must still be refused.
    sig = _signature(app.settings.link_signing_secret, unquote(raw), expires)
    async with _client(app) as client:
        response = await client.get(f"/files/{raw}?exp={expires}&sig={sig}")
    assert response.status_code == 403, (raw, response.status_code, response.text)
    assert "Liên kết không hợp lệ" in response.json()["detail"]


async def test_files_with_odd_names_are_stored_safely_and_still_served(app: BotApp) -> None:
    odd = Attachment("..\\báo cáo%2e 50%\x00.xlsx", b"PK odd", "application/vnd.ms-excel")
    path = save_attachment(app.settings.files_dir, odd)
    assert path.name == "báo cáo_2e 50%_.xlsx" and path.parent.parent == Path(app.settings.files_dir).resolve()
    url = sign_url(app.settings, path, app.clock()).replace(app.settings.public_base_url.rstrip("/"), "")
    async with _client(app) as client:
        got = await client.get(url)
    assert got.status_code == 200 and got.content == b"PK odd"


@pytest.mark.parametrize("name", ["", ".", "..", "/", "a/..", "\x00"])
def test_safe_name_is_never_a_path(name: str) -> None:
    assert safe_name(name) not in ("", ".", "..") and "/" not in safe_name(name) and "\x00" not in safe_name(name)
