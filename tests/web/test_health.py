"""The web app answers /healthz with the database reachable."""

from __future__ import annotations

import httpx

from tests.factories import FakeClock
from tocns.app import BotApp
from tocns.web.app import create_app


async def test_healthz(app: BotApp) -> None:
    web = create_app(app.settings, bot_app=app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://testserver") as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_healthz_is_503_while_a_loop_with_work_due_makes_no_progress(app: BotApp, clock: FakeClock) -> None:
    web = create_app(app.settings, bot_app=app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://testserver") as client:
        app.loops.progress("outbox_sender", due=True)  # messages due, the sender working on them
        app.loops.progress("inbound_queue", due=False)
        assert (await client.get("/healthz")).status_code == 200
        clock.advance(seconds=app.settings.loop_stall_seconds + 1)  # ...and then no progress: stuck
        stuck = await client.get("/healthz")
        assert stuck.status_code == 503  # the database answers; the sender does not move
        body = stuck.json()
        assert body["database"] == "ok" and body["status"] == "unavailable"
        assert body["loops"]["outbox_sender"]["stalled"] is True
        assert body["loops"]["inbound_queue"]["stalled"] is False  # idle for as long, nothing due: fine
        app.loops.progress("outbox_sender", due=False)  # it moves again
        assert (await client.get("/healthz")).status_code == 200
