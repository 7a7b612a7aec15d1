"""Every setting is documented in .env.example, and nothing there is stale (operators copy that file)."""

from __future__ import annotations

import re
from pathlib import Path

from tocns.config import Settings

ENV_EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"


def test_env_example_matches_settings() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set(), "settings missing from .env.example"
    assert documented - fields == set(), "variables in .env.example that no setting reads"


def test_env_example_holds_no_secret_values() -> None:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
        "ZALO_BOT_TOKEN",
        "ZALO_WEBHOOK_SECRET",
        "LINK_SIGNING_SECRET",
    ):
        assert re.search(rf"^{name}=$", text, re.M), f"{name} must be empty in .env.example"
