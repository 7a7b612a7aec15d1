"""POST /webhook/telegram: Telegram updates, checked against X-Telegram-Bot-Api-Secret-Token."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tocns.web.intake import intake

PATH = "/webhook/telegram"
router = APIRouter()


@router.post(PATH, tags=["webhooks"])
async def telegram_webhook(request: Request) -> JSONResponse:
    """Store a Telegram update and answer at once."""
    secret = request.app.state.bot.settings.telegram_webhook_secret
    return await intake(request, "telegram", secret, "X-Telegram-Bot-Api-Secret-Token")
