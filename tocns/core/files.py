"""Files the bot sends: written once under FILES_DIR, named by their content."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tocns.core.messages import Attachment

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
