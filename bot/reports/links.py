"""Signed, expiring download links for report files (Zalo cannot receive documents)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from bot.config import Settings

LINK_PATH = "/api/v1/files"


def _signature(secret: str, name: str, expires: int) -> str:
    return hmac.new(secret.encode(), f"{name}:{expires}".encode(), hashlib.sha256).hexdigest()


def signed_link(settings: Settings, name: str, now: datetime) -> str:
    """A URL to the report file `name` (relative to REPORT_DIR), valid REPORT_LINK_DAYS days from `now`."""
    if not settings.link_signing_secret:
        raise RuntimeError("LINK_SIGNING_SECRET is empty: signed report links cannot be made")
    expires = int((now + timedelta(days=settings.report_link_days)).timestamp())
    sig = _signature(settings.link_signing_secret, name, expires)
    return f"{settings.public_base_url.rstrip('/')}{LINK_PATH}/{quote(name)}?exp={expires}&sig={sig}"


def verify_link(settings: Settings, name: str, expires: int, sig: str, now: datetime) -> Path | None:
    """The file a link points to if its signature is right, it has not expired and the file exists."""
    if not settings.link_signing_secret or expires < now.timestamp():
        return None
    if not hmac.compare_digest(_signature(settings.link_signing_secret, name, expires), sig):
        return None
    root = Path(settings.report_dir).resolve()
    path = (root / name).resolve()
    # A signed name never leaves the report directory, but check anyway.
    if root not in path.parents or not path.is_file():
        return None
    return path
