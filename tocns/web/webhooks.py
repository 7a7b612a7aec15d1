"""POST /webhook/<platform>: one route per configured channel, each checked against its secret header; POST
/webhook/<platform>/<secret> for a platform that signs nothing (GapoWork: the secret is the URL's last segment)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tocns.web.intake import intake

router = APIRouter()


@router.post("/webhook/{platform}", tags=["webhooks"])
async def webhook(platform: str, request: Request) -> JSONResponse:
    """Store a platform update and answer at once (404 for a platform this server does not run)."""
    return await intake(request, platform)


@router.post("/webhook/{platform}/{secret}", tags=["webhooks"], include_in_schema=False)
async def webhook_with_secret(platform: str, secret: str, request: Request) -> JSONResponse:
    """Store an update of a platform whose webhook URL ends in a secret (404 for any other platform)."""
    return await intake(request, platform, path_secret=secret)
