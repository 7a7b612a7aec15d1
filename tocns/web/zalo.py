"""POST /webhook/zalo: Zalo updates (wrapped or bare), checked against X-Bot-Api-Secret-Token."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tocns.web.intake import intake

PATH = "/webhook/zalo"
router = APIRouter()


@router.post(PATH, tags=["webhooks"])
async def zalo_webhook(request: Request) -> JSONResponse:
    """Store a Zalo update and answer at once."""
    secret = request.app.state.bot.settings.zalo_webhook_secret
    return await intake(request, "zalo", secret, "X-Bot-Api-Secret-Token")
