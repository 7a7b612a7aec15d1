"""Files the bot sends and keeps: written once under FILES_DIR, named by their content; a photo fetched from the web."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tocns.core.messages import Attachment

if TYPE_CHECKING:
    import httpx

    from tocns.config import Settings

# What a stored file name may not carry: path separators, control characters (NUL included) and a "%" that reads as
# a percent-encoding ("%2e"), so that every signed link to it passes signed_links.is_normalised.
_UNSAFE = re.compile(r"[\\/\x00-\x1f\x7f]|%(?=[0-9A-Fa-f]{2})")


def safe_name(filename: str) -> str:
    """A file name without separators, control characters or "%XX" ("_" instead), never empty, "." or ".."."""
    name = _UNSAFE.sub("_", Path(filename.replace("\\", "/")).name).strip()
    return name if name not in ("", ".", "..") else "tep"


def save_attachment(files_dir: str, attachment: Attachment) -> Path:
    """Write an attachment under the files directory, named by its content so a retry reuses it."""
    digest = hashlib.sha256(attachment.content).hexdigest()[:16]
    # Absolute, so the sender finds the file whatever directory it was started from.
    folder = Path(files_dir).resolve() / digest
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe_name(attachment.filename)
    if not path.exists():
        path.write_bytes(attachment.content)
    return path


class FetchError(Exception):
    """A platform did not hand a file over: `reason` says why in words a member reads (the chat is told it);
    `detail`, the platform's own answer, is for the operator's log only."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason} ({detail})" if detail else reason)
        self.reason = reason
        self.detail = detail


PhotoFetch = Callable[["Settings", str, "httpx.AsyncClient"], Awaitable[tuple[bytes, str]]]
"""How a platform hands over a photo it names in its own way (Telegram's file id, the console's path): its bytes and
a file name. Each channel module that has one provides it; `tocns.app.photo_sources` lists them."""


def is_web_address(source: str) -> bool:
    """Whether a photo's source is a plain web address, which any platform's photo may be (Zalo's always are)."""
    return source.startswith(("http://", "https://"))


async def fetch_web_file(source: str, client: httpx.AsyncClient) -> tuple[bytes, str]:
    """The bytes behind a web address and the last part of its path; raises httpx.HTTPError."""
    response = await client.get(source, follow_redirects=True)
    response.raise_for_status()
    return response.content, Path(urlsplit(source).path).name
