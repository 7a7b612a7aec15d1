"""The web app answers /healthz with the database reachable."""

from __future__ import annotations

import httpx

from tocns.app import BotApp
from tocns.web.app import create_app


async def test_healthz(app: BotApp) -> None:
    web = create_app(app.settings, bot_app=app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://testserver") as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
