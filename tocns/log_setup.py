"""Process logging: one format, and no secret ever reaches a log line, whichever library writes it.

Redaction works by value and by shape. Every configured secret (bot tokens, webhook secrets, the link-signing
key, the database password) is registered when settings are built and replaced by `***` wherever it appears;
shapes catch what no setting holds: a Bot API URL's `/bot<token>/`, a Telegram-like token, an API token
(`tocns_…`), a `Bearer` credential and a signed link's `sig=`. It is applied where every record is made
(the log record factory), so handlers added later (uvicorn's, a test's) are covered as well as the root's.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

MASK = "***"
# Shorter values are too likely to occur in ordinary text ("1", "test") to be replaced everywhere.
MIN_SECRET_LENGTH = 6

# Telegram tokens look like 123456:ABC-def...; Zalo tokens travel in the same /bot<TOKEN>/ URL position.
_TOKEN_PATTERNS = (
    (re.compile(r"(://[^/\s]+(?:/[^/\s]+)*?/bot)[^/\s]+(?=/)"), r"\1" + MASK),
    (re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b"), MASK),
    (re.compile(r"\btocns_[A-Za-z0-9_-]{16,}"), MASK),
    (re.compile(r"(?i)\b(bearer\s+)[^\s'\",]+"), r"\1" + MASK),
    # Signed download links: the path may be logged, the signature never (it is the credential).
    (re.compile(r"([?&](?:amp;)?sig=)[^&\s'\"]+"), r"\1" + MASK),
)

_secrets: set[str] = set()
_secrets_pattern: re.Pattern[str] | None = None
_lock = threading.Lock()


def register_secrets(values: Iterable[str | None]) -> None:
    """Add values that must never be logged (each also in its URL-encoded form)."""
    global _secrets_pattern
    with _lock:
        added = False
        for value in values:
            if not value or len(value) < MIN_SECRET_LENGTH:
                continue
            for form in {value, quote(value, safe=""), quote(value, safe=":@")}:
                if form not in _secrets:
                    _secrets.add(form)
                    added = True
        if added:
            # Longest first, so a secret containing another is masked whole.
            ordered = sorted(_secrets, key=len, reverse=True)
            _secrets_pattern = re.compile("|".join(re.escape(s) for s in ordered))


def redact(text: str) -> str:
    """Replace every registered secret and anything shaped like a token or a signature with ***."""
    pattern = _secrets_pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for shape, replacement in _TOKEN_PATTERNS:
        text = shape.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


def redact_record(record: logging.LogRecord) -> None:
    """Redact a record in place: its message and arguments, its traceback and its stack."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple):
        # Argument by argument: formatters such as uvicorn's access log read the tuple, not the message.
        record.args = tuple(_redact_value(a) for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: _redact_value(v) for k, v in record.args.items()}
    try:
        message = record.getMessage()
    except Exception:  # a malformed call is the logging module's to report, not ours
        message = None
    if message is not None and redact(message) != message:
        # A secret formed only once the arguments were put together (or hidden in an object's str()).
        record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """Redacts each record passing a handler (for handlers outside this process's record factory)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drops one."""
        redact_record(record)
        return True


def install_redaction() -> None:
    """Redact every log record as it is made, in every logger of this process (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "tocns_redacting", False):
        return

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)  # whatever factory was there before keeps working
        redact_record(record)
        return record

    redacting_factory.tocns_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacting_factory)


def configure_logging(level: str | int = logging.WARNING) -> None:
    """Set up the root logger once, with redaction of every record and on every handler."""
    install_redaction()
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    # httpx logs every request URL at INFO, and Bot API URLs carry the token: redacted anyway, and quiet.
    # Alembic's plugin and dialect lines and APScheduler's start/stop lines say nothing an operator acts on.
    for noisy in ("httpx", "httpcore", "telegram.ext", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


install_redaction()
