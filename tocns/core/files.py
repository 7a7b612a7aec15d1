"""Files the bot sends: written once under FILES_DIR, named by their content."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tocns.core.messages import Attachment


def save_attachment(files_dir: str, attachment: Attachment) -> Path:
    """Write an attachment under the files directory, named by its content so a retry reuses it."""
    digest = hashlib.sha256(attachment.content).hexdigest()[:16]
    # Absolute, so the sender finds the file whatever directory it was started from.
    folder = Path(files_dir).resolve() / digest
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(attachment.filename).name
    if not path.exists():
        path.write_bytes(attachment.content)
    return path
