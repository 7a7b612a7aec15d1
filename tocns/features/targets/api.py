"""GET /api/v1/progress/{org_code}: a unit's progress towards its targets (the dashboard's and other tools' read)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request

from tocns.core.dates import fmt_date
from tocns.features.apitokens.auth import require_token
from tocns.features.org import store as org_store
from tocns.features.targets.service import unit_progress

if TYPE_CHECKING:
    from tocns.app import BotApp  # the web app's state carries it; imported for types only (no cycle)

PLAN_COMMAND = "kehoach"
"""The chat command whose authority the progress route checks."""

router = APIRouter(prefix="/api/v1", tags=["targets"])


@router.get("/progress/{org_code}")
async def get_progress(
    request: Request,
    org_code: str,
    as_of: date | None = Query(None, description="YYYY-MM-DD (default: today); the year is this date's year"),
    authorization: str = Header("", description="Bearer <API token> from `tocns apitoken create`"),
) -> dict[str, Any]:
    """Per unit (the unit and every unit below with a target) and indicator: year-to-date, target, %, on track."""
    bot: BotApp = request.app.state.bot
    now = bot.clock()
    today = now.astimezone(bot.settings.tz).date()
    day = as_of or today
    if day > today:
        raise HTTPException(422, f"Ngày {fmt_date(day)} chưa tới; hôm nay là {fmt_date(today)}.")
    async with bot.db.session() as session:
        # The same authority as the yearly plan in chat (/kehoach): the token's unit acts with its role.
        _token, allowed_unit = await require_token(session, authorization, now, bot.registry, PLAN_COMMAND)
        unit = await org_store.get_unit_by_code(session, org_code)
        if unit is None:
            raise HTTPException(404, f"Không có đơn vị mã {org_code!r}.")
        if not unit.path.startswith(allowed_unit.path):
            raise HTTPException(403, f"Token này chỉ đọc được số liệu của {allowed_unit.name} và đơn vị trực thuộc.")
        return (await unit_progress(session, unit, day)).to_dict()
