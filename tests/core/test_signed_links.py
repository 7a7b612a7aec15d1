"""Signed file links: a link the bot made opens its file until it expires; a changed or expired one does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from tocns.config import Settings
from tocns.core.signed_links import LINK_PATH, can_sign, is_normalised, sign_url, verify

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _settings(files: Path, secret: str = "s" * 32) -> Settings:
    return Settings(_env_file=None, files_dir=str(files), link_signing_secret=secret, signed_link_days=7)  # type: ignore[call-arg]


def _parts(url: str) -> tuple[str, int, str]:
    split = urlsplit(url)
    query = parse_qs(split.query)
    return unquote(split.path.removeprefix(LINK_PATH + "/")), int(query["exp"][0]), query["sig"][0]


def test_a_signed_link_opens_its_file_until_it_expires(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    (tmp_path / "ab").mkdir()
    photo = tmp_path / "ab" / "ảnh hộ dân.jpg"
    photo.write_bytes(b"jpeg")
    relative, expires, sig = _parts(sign_url(settings, photo, NOW))
    assert relative == "ab/ảnh hộ dân.jpg"
    assert verify(settings, relative, expires, sig, NOW + timedelta(days=6)) == photo.resolve()
    assert verify(settings, relative, expires, sig, NOW + timedelta(days=8)) is None  # SIGNED_LINK_DAYS is 7
    assert verify(settings, relative, expires + 86400, sig, NOW) is None  # a lengthened link is refused
    assert verify(settings, "ab/other.jpg", expires, sig, NOW) is None  # the signature names one file
    assert verify(_settings(tmp_path, "t" * 32), relative, expires, sig, NOW) is None  # another server's secret


def test_no_secret_no_links(tmp_path: Path) -> None:
    settings = _settings(tmp_path, secret="")
    assert not can_sign(settings)
    assert verify(settings, "ab/x.jpg", int(NOW.timestamp()) + 60, "0" * 32, NOW) is None


def test_only_the_form_sign_url_makes_is_accepted() -> None:
    assert is_normalised("ab/x.jpg")
    for tricky in ("", "/etc/passwd", "ab/../x", "ab//x", "./x", "ab\\x", "ab/%2e%2e/x", "ab/x\x00.jpg"):
        assert not is_normalised(tricky), tricky
