"""`tocns apitoken list|revoke`, as an operator sees them: a revoked token opens no API at once."""

from __future__ import annotations

from tests.cli.test_cli import run_cli
from tests.factories import ChatHarness, FakeClock
from tests.features.directives.test_api import _client, _directives, _tokens
from tests.features.directives.test_commands import _setup
from tocns.app import BotApp


async def test_cli_lists_and_revokes_tokens(app: BotApp, chat: ChatHarness, clock: FakeClock, db_url: str) -> None:
    tree = await _setup(app, chat, clock)
    province, _commune = await _tokens(app, tree)
    listed = run_cli(["apitoken", "list"], db_url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[1].split()[:3] == ["1", "P01", "hiệu"] and "Sở KH&CN" in lines[1]
    assert lines[2].split()[:2] == ["2", "X1"]
    assert "tocns_" not in listed.stdout  # the token itself is never shown again
    revoked = run_cli(["apitoken", "revoke", "1"], db_url)
    assert revoked.returncode == 0 and "Đã thu hồi API token số 1 (Tỉnh Thử" in revoked.stdout
    again = run_cli(["apitoken", "revoke", "1"], db_url)
    assert again.returncode == 0 and "đã bị thu hồi từ trước" in again.stdout
    missing = run_cli(["apitoken", "revoke", "9"], db_url)
    assert missing.returncode == 1 and "Không có API token số 9" in missing.stderr
    assert "đã thu hồi" in run_cli(["apitoken", "list"], db_url).stdout.splitlines()[1]
    async with _client(app) as client:
        refused = await client.post("/api/v1/directives", json={"text": "Họp"}, headers=province)
        assert refused.status_code == 401
        assert (await client.get("/api/v1/reports/P01", headers=province)).status_code == 401
    assert await _directives(app) == []
