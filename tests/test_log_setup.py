"""Bot tokens never reach a log line, even from libraries that log request URLs."""

from __future__ import annotations

import io
import logging

from tocns.log_setup import configure_logging, redact

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_redact_telegram_and_zalo_urls() -> None:
    assert TOKEN not in redact(f"HTTP Request: POST https://api.telegram.org/bot{TOKEN}/getUpdates")
    assert "zalotoken" not in redact("POST https://bot-api.zaloplatforms.com/botzalotoken/sendMessage")
    assert redact("nothing secret here /thamgia thon 3") == "nothing secret here /thamgia thon 3"


def test_configure_logging_redacts_every_root_handler() -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        configure_logging(logging.INFO)
        logging.getLogger("tocns.test").info("calling %s", f"https://api.telegram.org/bot{TOKEN}/sendMessage")
    finally:
        root.removeHandler(handler)
    written = stream.getvalue()
    assert "https://api.telegram.org/bot***/sendMessage" in written
    assert TOKEN not in written
    # httpx logs each request URL at INFO: it is kept at WARNING even when the bot logs at INFO.
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
