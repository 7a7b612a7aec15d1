"""Signed, expiring download links for files sent by URL (Zalo cannot receive documents)."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from urllib.parse import quote


def _signature(secret: str, relative: str, expires: int) -> str:
    message = f"{relative}|{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def sign_url(base_url: str, secret: str, files_dir: str, path: Path, ttl_seconds: int, now: float | None = None) -> str:
    """A URL under /files/ for a file inside `files_dir`, valid for `ttl_seconds`."""
    relative = path.resolve().relative_to(Path(files_dir).resolve()).as_posix()
    expires = int((now if now is not None else time.time()) + ttl_seconds)
    sig = _signature(secret, relative, expires)
    return f"{base_url.rstrip('/')}/files/{quote(relative)}?exp={expires}&sig={sig}"


def verify(secret: str, relative: str, expires: int, sig: str, now: float | None = None) -> bool:
    """Whether a link's signature is right and it has not expired."""
    if not secret or expires < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(_signature(secret, relative, expires), sig)
