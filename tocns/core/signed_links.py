"""Signed, expiring download links to files under FILES_DIR (Zalo gets pictures by URL and documents as links)."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from tocns.config import Settings

LINK_PATH = "/files"


# A leftover percent-encoding ("%2e", "%00") after the web server decoded the path once: a double-encoded trick.
_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")


def is_normalised(relative: str) -> bool:
    """Whether a path under FILES_DIR is in the one form sign_url makes: relative, forward slashes, no empty, "."
    or ".." part, no NUL or other control character, no leftover percent-encoding. Anything else is refused
    before it reaches the file system (a NUL there raises instead of answering)."""
    if not relative or relative.startswith("/") or "\\" in relative or _ENCODED.search(relative):
        return False
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in relative):
        return False
    return all(part not in ("", ".", "..") for part in relative.split("/"))


def _signature(secret: str, relative: str, expires: int) -> str:
    message = f"{relative}|{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def can_sign(settings: Settings) -> bool:
    """Whether links can be made (a signing secret is set)."""
    return bool(settings.link_signing_secret)


def sign_url(settings: Settings, path: Path, now: datetime) -> str:
    """A URL under /files/ to a file inside FILES_DIR, valid SIGNED_LINK_DAYS days from `now`."""
    if not settings.link_signing_secret:
        raise RuntimeError("LINK_SIGNING_SECRET is empty: signed links cannot be made")
    relative = path.resolve().relative_to(Path(settings.files_dir).resolve()).as_posix()
    expires = int((now + timedelta(days=settings.signed_link_days)).timestamp())
    sig = _signature(settings.link_signing_secret, relative, expires)
    return f"{settings.public_base_url.rstrip('/')}{LINK_PATH}/{quote(relative)}?exp={expires}&sig={sig}"


def verify(settings: Settings, relative: str, expires: int, sig: str, now: datetime) -> Path | None:
    """The file a link points to if its path is normalised, its signature is right, it has not expired and the file
    exists."""
    secret = settings.link_signing_secret
    if not is_normalised(relative):
        return None
    if not secret or expires < now.timestamp():
        return None
    if not hmac.compare_digest(_signature(secret, relative, expires), sig):
        return None
    root = Path(settings.files_dir).resolve()
    path = (root / relative).resolve()
    # A signed name never leaves FILES_DIR, but a symlink or a bug could: check anyway.
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path
