"""GET /metrics in Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from tocns.app import BotApp
from tocns.core.metrics import METRICS
from tocns.inbound import store as inbound_store

router = APIRouter()


@router.get("/metrics", tags=["ops"])
async def metrics(request: Request) -> Response:
    """Updates received, commands by name, errors, outbox depth and send latency."""
    bot: BotApp = request.app.state.bot
    async with bot.db.session() as session:
        METRICS.outbox_depth.set(await inbound_store.outbox_depth(session))
    return Response(METRICS.exposition(), media_type=CONTENT_TYPE_LATEST)
