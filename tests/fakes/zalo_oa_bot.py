"""The bot wired to the fake Zalo OA: settings, token store, channel and transport on one fake."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.fakes import zalo_oa_api
from tests.fakes.zalo_oa_api import FakeZaloOa
from tocns.app import BotApp
from tocns.channels.zalo_oa import OaTokens, OAuthClient, ZaloOaChannel, ZaloOaTransport
from tocns.config import Settings
from tocns.features.zalo_oa.tokens import DbTokenStore


def oa_settings(settings: Settings, tmp_path: Path, base: str = zalo_oa_api.BASE) -> Settings:
    """Test settings with the Zalo OA configured against the fake (both base URLs on it)."""
    return settings.model_copy(
        update={
            "zalo_oa_app_id": zalo_oa_api.APP_ID,
            "zalo_oa_app_secret": zalo_oa_api.APP_SECRET,
            "zalo_oa_secret_key": zalo_oa_api.SECRET_KEY,
            "zalo_oa_api_base_url": base,
            "zalo_oa_oauth_base_url": base,
            "files_dir": str(tmp_path / "files"),
            "public_base_url": "https://bot.example.vn",
        }
    )


@dataclass
class OaBot:
    """The bot, its OA channel and transport, and the token manager they share."""

    app: BotApp
    channel: ZaloOaChannel
    transport: ZaloOaTransport
    tokens: OaTokens


def oa_tokens(app: BotApp, fake: FakeZaloOa) -> OaTokens:
    """A token manager on the test database whose token calls go to the fake."""
    store = DbTokenStore(app.db, app.settings.zalo_oa_app_id, app.clock)
    return OaTokens(store, OAuthClient(app.settings, fake.client()), app.clock)


async def oa_bot(app: BotApp, settings: Settings, tmp_path: Path, fake: FakeZaloOa, authorize: bool = True) -> OaBot:
    """The test bot re-wired for the OA; with `authorize`, the first token pair stored as the operator would."""
    papp = BotApp.build(oa_settings(settings, tmp_path), app.db, app.clock)
    tokens = oa_tokens(papp, fake)
    if authorize:
        await tokens.bootstrap(zalo_oa_api.FIRST_REFRESH)
    channel = ZaloOaChannel(papp.settings, papp.router, tokens, client=fake.client())
    transport = ZaloOaTransport(papp.settings, tokens, client=fake.client(), clock=papp.clock)
    return OaBot(papp, channel, transport, tokens)
