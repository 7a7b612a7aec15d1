"""GET /files/...: files behind signed, expiring links (images and reports sent to Zalo)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from bot.signed_links import verify

router = APIRouter()


@router.get("/files/{relative:path}", tags=["files"])
async def signed_file(relative: str, exp: int, sig: str, request: Request) -> FileResponse:
    """Serve a file if its link is signed and not expired."""
    settings = request.app.state.bot.settings
    if not verify(settings.link_signing_secret, relative, exp, sig):
        raise HTTPException(status_code=403, detail="Liên kết không hợp lệ hoặc đã hết hạn.")
    root = Path(settings.files_dir).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(status_code=404, detail="Không tìm thấy tệp.")
    return FileResponse(path, filename=path.name)
