"""Bot tokens never reach a log line, even from libraries that log request URLs."""

from __future__ import annotations

import logging

import pytest

from bot.log_setup import RedactingFilter, configure_logging, redact

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_redact_telegram_and_zalo_urls() -> None:
    assert TOKEN not in redact(f"HTTP Request: POST https://api.telegram.org/bot{TOKEN}/getUpdates")
    assert "zalotoken" not in redact("POST https://bot-api.zaloplatforms.com/botzalotoken/sendMessage")
    assert redact("nothing secret here /thamgia thon 3") == "nothing secret here /thamgia thon 3"


def test_filter_rewrites_records(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging(logging.INFO)
    logger = logging.getLogger("tocns.test")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO):
        logger.info("calling %s", f"https://api.telegram.org/bot{TOKEN}/sendMessage")
    assert caplog.records and TOKEN not in caplog.text
    assert logging.getLogger("httpx").level >= logging.WARNING
