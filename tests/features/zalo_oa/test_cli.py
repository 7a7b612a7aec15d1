"""`tocns zalo-oa authorize|groups|bind` as an operator runs them, against the fake OA over real HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlmodel import select

from tests.cli.test_cli import run_cli
from tests.fakes.platforms import commune_join_code
from tests.fakes.zalo_oa_api import APP_ID, APP_SECRET, FIRST_REFRESH, GROUP, SECRET_KEY, FakeZaloOa
from tests.fakes.zalo_oa_server import ZaloOaServer
from tocns.app import BotApp
from tocns.features.org import store as org_store
from tocns.features.zalo_oa.models import ZaloOaToken


def _env(base: str, refresh: str = FIRST_REFRESH) -> dict[str, str]:
    return {
        "ZALO_OA_APP_ID": APP_ID,
        "ZALO_OA_APP_SECRET": APP_SECRET,
        "ZALO_OA_SECRET_KEY": SECRET_KEY,
        "ZALO_OA_REFRESH_TOKEN": refresh,
        "ZALO_OA_API_BASE_URL": base,
        "ZALO_OA_OAUTH_BASE_URL": base,
    }


async def _stored(app: BotApp) -> list[ZaloOaToken]:
    async with app.db.session() as session:
        return list((await session.exec(select(ZaloOaToken))).all())


async def test_authorize_stores_the_rotated_pair_then_groups_lists_them_and_bind_binds_one(
    app: BotApp, db_url: str, tmp_path: Path
) -> None:
    fake = FakeZaloOa(
        groups={
            GROUP: {"name": "Tổ CNS Xã Tân Lập", "status": "enabled", "total_member": 12},
            "a0b1c2d3e4f5a6b7c8d9": {"name": "Tổ CNS Xã Hòa Bình", "status": "disabled", "total_member": 4},
        }
    )
    await commune_join_code(app)  # the org tree with Xã Tân Lập (X1)
    with ZaloOaServer(fake) as server:
        env = _env(server.base_url)
        authorized = await asyncio.to_thread(run_cli, ["zalo-oa", "authorize"], db_url, extra_env=env, cwd=tmp_path)
        assert authorized.returncode == 0, authorized.stderr
        assert "Đã lưu token Zalo OA" in authorized.stdout
        # The bootstrap token was used once: Zalo rotated it; the bot keeps the new pair in its database.
        (row,) = await _stored(app)
        assert row.refresh_token == fake.refresh_token != FIRST_REFRESH
        again = await asyncio.to_thread(run_cli, ["zalo-oa", "authorize"], db_url, extra_env=env, cwd=tmp_path)
        assert again.returncode == 1 and "Zalo từ chối" in again.stderr
        assert (await _stored(app))[0].refresh_token == row.refresh_token  # a refused bootstrap changes nothing
        listed = await asyncio.to_thread(run_cli, ["zalo-oa", "groups"], db_url, extra_env=env, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert f"{GROUP}\tenabled\t12\tTổ CNS Xã Tân Lập\thttps://zalo.me/g/{GROUP[:6]}" in lines
        assert any(line.startswith("a0b1c2d3e4f5a6b7c8d9\tdisabled") for line in lines)
        bound = await asyncio.to_thread(run_cli, ["zalo-oa", "bind", GROUP, "X1"], db_url, extra_env=env, cwd=tmp_path)
        assert bound.returncode == 0 and "Đã gắn nhóm Zalo OA" in bound.stdout, bound.stderr
    async with app.db.session() as session:
        binding = await org_store.get_binding(session, "zalo_oa", GROUP)
    assert binding is not None


async def test_authorize_without_any_token_says_what_to_set(db_url: str, tmp_path: Path) -> None:
    result = await asyncio.to_thread(
        run_cli, ["zalo-oa", "authorize"], db_url, extra_env=_env("http://127.0.0.1:9", refresh=""), cwd=tmp_path
    )
    assert result.returncode == 2 and "ZALO_OA_REFRESH_TOKEN" in result.stderr and "Traceback" not in result.stderr
