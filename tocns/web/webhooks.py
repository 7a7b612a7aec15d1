"""POST /webhook/<platform>: one route per configured channel, each checked against its secret header."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tocns.web.intake import intake

router = APIRouter()


@router.post("/webhook/{platform}", tags=["webhooks"])
async def webhook(platform: str, request: Request) -> JSONResponse:
    """Store a platform update and answer at once (404 for a platform this server does not run)."""
    return await intake(request, platform)
