"""GET /files/...: files behind signed, expiring links (pictures, documents and report workbooks sent to Zalo)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from tocns.core.signed_links import LINK_PATH, verify

router = APIRouter()


@router.get(LINK_PATH + "/{relative:path}", tags=["files"])
async def signed_file(relative: str, request: Request, exp: int = 0, sig: str = "") -> FileResponse:
    """Serve a file if its link is signed, not expired and the file exists."""
    bot = request.app.state.bot
    path = verify(bot.settings, relative, exp, sig, bot.clock())
    if path is None:
        days = bot.settings.signed_link_days
        detail = f"Liên kết không hợp lệ hoặc đã hết hạn (liên kết có hiệu lực {days} ngày)."
        raise HTTPException(status_code=403, detail=detail)
    return FileResponse(path, filename=path.name)
