"""GET /files/...: files behind signed, expiring links (pictures, documents and report workbooks sent to Zalo)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse

from tocns.core.signed_links import LINK_PATH, verify

if TYPE_CHECKING:
    from tocns.app import BotApp

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


def files_app(bot: BotApp) -> FastAPI:
    """A web app serving only GET /files: what `tocns run` (polling, no webhook server) starts when a public base
    URL is set, so the pictures and documents it links to in Zalo open."""
    app = FastAPI(title="Tổ CNS: tệp", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.bot = bot
    app.include_router(router)
    return app
