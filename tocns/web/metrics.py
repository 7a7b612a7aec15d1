"""GET /metrics in Prometheus text format."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from tocns.app import BotApp
from tocns.core.metrics import METRICS
from tocns.inbound import store as inbound_store
from tocns.inbound.models import InboundState
from tocns.web.app import PING_TIMEOUT_SECONDS

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/metrics", tags=["ops"])
async def metrics(request: Request) -> Response:
    """Updates received, commands by name, errors, inbound backlog and parked updates, outbox depth and send
    latency."""
    bot: BotApp = request.app.state.bot
    try:
        async with bot.db.session() as session:
            depth = await asyncio.wait_for(inbound_store.outbox_depth(session), timeout=PING_TIMEOUT_SECONDS)
            queue = await asyncio.wait_for(inbound_store.queue_counts(session), timeout=PING_TIMEOUT_SECONDS)
    except Exception as exc:  # the scrape fails visibly (target down) instead of a 500 with a traceback
        log.warning("metrics: database unreachable: %s: %s", type(exc).__name__, exc)
        return Response("# database unreachable\n", status_code=503, media_type=CONTENT_TYPE_LATEST)
    METRICS.outbox_depth.set(depth)
    METRICS.inbound_backlog.set(queue[InboundState.PENDING])
    METRICS.inbound_parked.set(queue[InboundState.FAILED])
    return Response(METRICS.exposition(), media_type=CONTENT_TYPE_LATEST)
