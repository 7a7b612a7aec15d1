"""The hardened webhook intake both platforms share: secret, size, JSON, shape, store, answer."""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import JSONResponse

from tocns.channels.base import Channel, UpdateIgnored, UpdateRefused
from tocns.core.metrics import METRICS
from tocns.core.updates import Checked
from tocns.inbound.pipeline import Pipeline, unstorable

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    """The request body is over the configured limit."""


def secret_ok(expected: str, given: str | None) -> bool:
    """Constant-time comparison; an unset secret accepts nothing."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))


async def read_limited(request: Request, limit: int) -> bytes:
    """Read the body, refusing it as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


_SURROGATE = re.compile("[\ud800-\udfff]")
# Where a decoded surrogate can come from in the raw body: a `\uD800`-`\uDFFF` escape or the bytes UTF-8 would
# give one (which `json.loads` lets through). A body with neither (nearly every one) needs no walk; a match may be
# an escaped backslash, so the walk still decides.
_SURROGATE_SOURCE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def has_lone_surrogate(value: object) -> bool:
    """Whether any string (or key) in a decoded JSON value holds a lone surrogate.

    `json.loads` turns a `\\ud800` escape (or raw surrogate bytes) into a character no UTF-8 database can
    store; a valid pair is already one character by then. No platform sends them: refusing is safe.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _refuse(status: int, platform: str, reason: str) -> JSONResponse:
    log.warning("%s webhook refused (%s): %s", platform, status, reason)
    METRICS.errors.labels(f"webhook_{status}").inc()
    return JSONResponse({"ok": False, "error": reason}, status_code=status)


def _channel_for(channels: Mapping[str, Channel], platform: str) -> Channel | None:
    """The channel a webhook URL names: by platform (`/webhook/zalo`) or by its path when they differ
    (`/webhook/zalo-oa`)."""
    return channels.get(platform) or next(
        (c for c in channels.values() if c.webhook_path == f"/webhook/{platform}"), None
    )


def _refuse_secret(request: Request, channel: Channel, path_secret: str | None) -> JSONResponse | None:
    """The refusal of a call without the channel's secret (in the header, or in the path for GapoWork), or None.

    A channel whose platform signs the raw body (Zalo OA's X-ZEvent-Signature) is checked by `verify` instead."""
    in_path = getattr(channel, "secret_in_path", False)
    if path_secret is not None and not in_path:
        return _refuse(404, channel.platform, "no such webhook path")
    given = path_secret if in_path else request.headers.get(channel.secret_header)
    if getattr(channel, "verify", None) is None and not secret_ok(channel.webhook_secret, given):
        return _refuse(401, channel.platform, "missing or wrong secret")
    return None


def _refuse_signature(request: Request, channel: Channel, raw: bytes) -> JSONResponse | None:
    """For a channel that signs the raw body: the answer when the signature cannot be or is not right, or None."""
    verify = getattr(channel, "verify", None)
    if verify is None:
        return None
    if not channel.webhook_secret:
        # Zalo shows the OA secret key only after it pinged the URL once: answer, keep nothing, until it is set.
        log.warning("%s webhook call answered but not processed: its signature key is not configured", channel.platform)
        return JSONResponse({"ok": True})
    if not verify(raw, request.headers):
        return _refuse(401, channel.platform, "missing or wrong signature")
    return None


def _read_update(channel: Channel, raw: bytes) -> Checked | JSONResponse:
    """The body decoded and checked by its channel, or the answer when it is not JSON, not storable or not an
    update for the bot."""
    platform = channel.platform
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser allows
        return _refuse(400, platform, "body is not JSON")
    if _SURROGATE_SOURCE.search(raw) and has_lone_surrogate(body):
        return _refuse(400, platform, "body holds a lone surrogate (not valid Unicode)")
    try:
        checked = channel.check(body)
    except UpdateIgnored as exc:
        # Nothing for the bot (an unknown event, group chatter): answered so the platform does not retry, not kept.
        log.info("%s webhook update ignored: %s", platform, str(exc)[:200])
        return JSONResponse({"ok": True, "ignored": True})
    except UpdateRefused as exc:
        return _refuse(exc.status, platform, str(exc)[:200])
    except (ValueError, RecursionError) as exc:
        return _refuse(400, platform, str(exc)[:200])
    # What cannot be stored is refused now, not accepted and then failed on every attempt (holding its chat).
    if (reason := unstorable(checked)) is not None:
        return _refuse(400, platform, reason)
    return checked


async def intake(request: Request, platform: str, path_secret: str | None = None) -> JSONResponse:
    """Check and store one webhook delivery, then process it in the background; `path_secret` is the last segment
    of `/webhook/<platform>/<secret>`, for a platform that signs nothing and echoes no header (GapoWork)."""
    pipeline: Pipeline = request.app.state.pipeline
    channel = _channel_for(request.app.state.channels, platform)
    if channel is None:
        return _refuse(404, platform, "platform not configured")
    platform = channel.platform
    if (refused := _refuse_secret(request, channel, path_secret)) is not None:
        return refused
    try:
        raw = await read_limited(request, pipeline.settings.webhook_max_body_bytes)
    except BodyTooLarge:
        return _refuse(413, platform, "body too large")
    if (refused := _refuse_signature(request, channel, raw)) is not None:
        return refused
    checked = _read_update(channel, raw)
    if isinstance(checked, JSONResponse):
        return checked
    try:
        await pipeline.accept(channel, checked)
    except Exception:
        log.exception("%s webhook: storing the update failed", platform)
        METRICS.errors.labels("store").inc()
        # 503 makes the platform retry later; nothing was stored.
        return JSONResponse({"ok": False, "error": "temporarily unavailable"}, status_code=503)
    return JSONResponse({"ok": True})
