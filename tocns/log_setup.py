"""Process logging: one format, and bot tokens never reach a log line."""

from __future__ import annotations

import logging
import re

# Telegram tokens look like 123456:ABC-def...; Zalo tokens travel in the same /bot<TOKEN>/ URL position.
_TOKEN_PATTERNS = (
    re.compile(r"(://[^/\s]+(?:/[^/\s]+)*?/bot)[^/\s]+(?=/)"),
    re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b"),
)


def redact(text: str) -> str:
    """Replace anything that looks like a bot token with ***."""
    text = _TOKEN_PATTERNS[0].sub(r"\1***", text)
    return _TOKEN_PATTERNS[1].sub("***", text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with tokens removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the formatted message in place; never drops a record."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str | int = logging.WARNING) -> None:
    """Set up the root logger once, with token redaction on every handler."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    # httpx logs every request URL at INFO, and Bot API URLs carry the token.
    for noisy in ("httpx", "httpcore", "telegram.ext", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
