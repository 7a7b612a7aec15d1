"""Zalo Official Account with group chats (GMF): OA API v3 webhook events in, group messages out, OAuth v4 tokens.

Facts and their confidence come from ../shared/platforms/zalo.md (§ numbers below). Where its sources disagree
on the lifecycle event names, every variant is accepted. The webhook signature is accepted in the configured
variant only (ZALO_OA_SIGNATURE_KEY, the documented OA secret key by default); a call signed in another is logged
(which variant) and refused. The channel never opens a database session: the token store is handed in
(`TokenStore`), `tocns.app` wires the database one.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx

from tocns.channels.base import SendResult, SendStatus, SetupError
from tocns.config import Settings
from tocns.core.clock import utcnow
from tocns.core.files import save_attachment
from tocns.core.mentions import render
from tocns.core.messages import Attachment, ChatEvent, ChatEventKind, ChatType, InboundEvent, IncomingMessage, Mention
from tocns.core.metrics import METRICS
from tocns.core.router import Router
from tocns.core.signed_links import can_sign, sign_url
from tocns.core.supervisor import describe
from tocns.core.text import split_chunks, utf16_len
from tocns.core.updates import Checked
from tocns.log_setup import register_secrets

log = logging.getLogger(__name__)

PLATFORM = "zalo_oa"
MAX_TEXT = 2000  # group text limit assumed equal to the documented 2,000 of 1:1 text (§2.6), in UTF-16 units
# Access tokens live ~25 h (§1.3): refreshed once less than this is left, i.e. after about 20 h.
REFRESH_AHEAD = timedelta(hours=5)
IMAGE_UPLOAD_MAX = 1_000_000  # jpg/png up to 1 MB (§2.4)
FILE_UPLOAD_MAX = 5_000_000  # files up to 5 MB (§2.4)
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
AUTHORIZE_HINT = (
    "chạy `tocns zalo-oa authorize` với refresh token mới (API Explorer) hoặc mã cấp quyền, rồi khởi động lại"
)


# ---------------------------------------------------------------- OAuth v4 tokens


@dataclass(frozen=True)
class TokenState:
    """The OA's current token pair; `dead` holds why the refresh token can no longer be used."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    dead: str | None = None


class TokenStore(Protocol):
    """Where the token pair lives between processes and restarts (the database, in `tocns.app`)."""

    async def load(self) -> TokenState | None:
        """The stored pair, or None before `tocns zalo-oa authorize`."""
        ...

    async def save(self, state: TokenState, replaced_refresh: str | None) -> bool:
        """Store a new pair in one transaction; False when the stored refresh token is no longer `replaced_refresh`
        (someone else refreshed first). `replaced_refresh` None stores unconditionally (bootstrap)."""
        ...

    async def mark_dead(self, refresh_token: str, reason: str) -> None:
        """Record that this refresh token was refused, so no process tries it again."""
        ...

    def lock(self) -> AbstractAsyncContextManager[None]:
        """Held around a refresh, across processes (a refresh token is single-use)."""
        ...


class TokenDead(Exception):
    """No usable token: the refresh token was refused or none was ever stored; an operator must authorize."""


class TokenUnavailable(Exception):
    """The token endpoint could not be reached; try again later."""


def _int(value: object) -> int | None:
    """An int from Zalo's numbers, which come as ints or strings ("90000")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


class OAuthClient:
    """`POST {oauth}/v4/oa/access_token`, form-encoded, the app secret in a `secret_key` header (§1.2)."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(15.0))

    async def _token_call(self, form: dict[str, str]) -> dict[str, Any]:
        url = f"{self.settings.zalo_oa_oauth_base_url.rstrip('/')}/v4/oa/access_token"
        try:
            response = await self.client.post(
                url,
                data={"app_id": self.settings.zalo_oa_app_id, **form},
                headers={"secret_key": self.settings.zalo_oa_app_secret},
            )
        except httpx.HTTPError as exc:
            raise TokenUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise TokenUnavailable(f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            data = {"error": response.status_code, "error_description": response.text[:200]}
        return data if isinstance(data, dict) else {"error": response.status_code}

    def _state(self, data: dict[str, Any], now: datetime) -> TokenState:
        access, refresh = data.get("access_token"), data.get("refresh_token")
        if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh):
            code = _int(data.get("error"))
            reason = data.get("error_description") or data.get("error_reason") or data.get("error_name") or ""
            raise TokenDead(f"Zalo từ chối ({code}: {reason})".strip())
        register_secrets([access, refresh])
        # `expires_in` is the string "90000" (25 h) in the official example; a missing one is taken as 1 h,
        # the oldest documented lifetime, so the bot refreshes early rather than late.
        seconds = _int(data.get("expires_in")) or 3600
        return TokenState(access, refresh, now + timedelta(seconds=seconds))

    async def refresh(self, refresh_token: str, now: datetime) -> TokenState:
        """Trade a refresh token for a new pair (the old refresh token dies with it)."""
        data = await self._token_call({"grant_type": "refresh_token", "refresh_token": refresh_token})
        return self._state(data, now)

    async def exchange(self, code: str, verifier: str | None, now: datetime) -> TokenState:
        """Trade an authorization code (10 minutes, single-use) for a first pair."""
        form = {"grant_type": "authorization_code", "code": code}
        if verifier:
            form["code_verifier"] = verifier
        return self._state(await self._token_call(form), now)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()


class OaTokens:
    """The OA's access token: refreshed ahead of expiry or when refused, one refresh at a time, the new pair stored
    before it is used (Zalo's refresh tokens are single-use and rotate, §1.5)."""

    def __init__(self, store: TokenStore, oauth: OAuthClient, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.oauth = oauth
        self.clock = clock
        self._lock = asyncio.Lock()
        self.dead: str | None = None
        # A pair Zalo issued that the database could not store (it went away): the old refresh token is already
        # dead at Zalo, so this one is used and stored as soon as the database answers, never dropped.
        self._unsaved: tuple[TokenState, str | None] | None = None

    async def _save(self, new: TokenState, replaced: str | None) -> None:
        if not await self.store.save(new, replaced):
            log.error("zalo_oa: the stored refresh token changed during a refresh; keeping ours")
            await self.store.save(new, None)

    async def access_token(self) -> str:
        """A usable access token, refreshed first when it is close to expiry; raises TokenDead or TokenUnavailable."""
        state = await self._load()
        if state.expires_at - self.clock() > REFRESH_AHEAD:
            return state.access_token
        return await self.refresh(state.access_token)

    async def _load(self) -> TokenState:
        if self._unsaved is not None:
            new, replaced = self._unsaved
            try:
                await self._save(new, replaced)
            except Exception as exc:
                log.warning("zalo_oa: the new token pair is still not stored (%s); using it from memory", describe(exc))
                return new
            self._unsaved = None
            log.warning("zalo_oa: the new token pair is stored now")
        state = await self.store.load()
        if state is None:
            raise TokenDead(f"chưa có token Zalo OA: {AUTHORIZE_HINT}")
        if state.dead:
            self._alert(state.dead)
            raise TokenDead(state.dead)
        return state

    async def refresh(self, stale: str | None) -> str:
        """Refresh unless someone already replaced `stale` (the token that was refused or is expiring); single-flight
        in this process (a lock) and across processes (the store's lock)."""
        async with self._lock, self.store.lock():
            state = await self._load()
            fresh = state.expires_at - self.clock() > REFRESH_AHEAD
            if state.access_token != stale and fresh:
                return state.access_token  # refreshed by the caller before us, here or in another process
            try:
                new = await self.oauth.refresh(state.refresh_token, self.clock())
            except TokenDead as exc:
                reason = f"refresh token Zalo OA bị từ chối: {exc}"
                await self.store.mark_dead(state.refresh_token, reason)
                self._alert(reason)
                raise TokenDead(reason) from exc
            # Stored before anyone uses it: the old refresh token is already dead at Zalo. When the database is
            # away, the pair is kept in memory and stored first thing on the next use (see _load), never lost.
            try:
                await self._save(new, state.refresh_token)
            except Exception as exc:
                log.warning("zalo_oa: storing the new token pair failed (%s); kept in memory", describe(exc))
                self._unsaved = (new, state.refresh_token)
            log.info("zalo_oa: access token refreshed, valid until %s", new.expires_at.isoformat())
            return new.access_token

    def _alert(self, reason: str) -> None:
        if self.dead != reason:
            log.error("zalo_oa: %s; sending stopped, messages kept waiting: %s", reason, AUTHORIZE_HINT)
        self.dead = reason
        METRICS.channel_stopped.labels(PLATFORM).set(1)

    async def bootstrap(self, refresh_token: str) -> TokenState:
        """Store a first pair from a refresh token an operator got (API Explorer, ZALO_OA_REFRESH_TOKEN)."""
        new = await self.oauth.refresh(refresh_token.strip(), self.clock())
        await self.store.save(new, None)
        return new

    async def authorize(self, code: str, verifier: str | None = None) -> TokenState:
        """Store a first pair from an authorization code (the OA admin approved the app)."""
        new = await self.oauth.exchange(code.strip(), verifier, self.clock())
        await self.store.save(new, None)
        return new


# ---------------------------------------------------------------- OA API v3 calls

# -216 access token invalid, -220 expired or removed; HTTP 401 also seen (§1.4): refresh once, retry once.
TOKEN_CODES = frozenset({-216, -220})
# How often a group's member names may be read again when a member the bot has no name for writes.
NAMES_EVERY = 600.0


@dataclass(frozen=True)
class ApiAnswer:
    """One OA API answer: HTTP status, Zalo's error code (0 is success) and the body."""

    status: int
    code: int
    data: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Whether Zalo reported success (errors come with HTTP 200 and `error != 0`, §1.4)."""
        return self.status < 400 and self.code == 0

    @property
    def error(self) -> str:
        """The error as `code: message`, for logs and the outbox row."""
        message = self.data.get("message") or self.data.get("error_description") or ""
        return f"{self.code}: {message}"[:300]


class OaApi:
    """Calls to `openapi.zalo.me` with the `access_token` header (not a Bearer header, §2.2), refreshing once when
    Zalo refuses the token."""

    def __init__(self, settings: Settings, tokens: OaTokens, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = settings.zalo_oa_api_base_url.rstrip("/")
        self.tokens = tokens
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(15.0, write=30.0))

    async def call(self, method: str, path: str, **kwargs: Any) -> ApiAnswer:
        """One call; raises TokenDead / TokenUnavailable when no token can be had, httpx.HTTPError on the network."""
        token = await self.tokens.access_token()
        answer = await self._once(method, path, token, **kwargs)
        if answer.code in TOKEN_CODES or answer.status == 401:
            log.info("zalo_oa: token refused (%s); refreshing once", answer.error)
            token = await self.tokens.refresh(token)
            answer = await self._once(method, path, token, **kwargs)
        return answer

    async def _once(self, method: str, path: str, token: str, **kwargs: Any) -> ApiAnswer:
        response = await self.client.request(
            method, f"{self.base_url}{path}", headers={"access_token": token}, **kwargs
        )
        try:
            data = response.json()
        except ValueError:
            data = {"error": response.status_code, "message": response.text[:200]}
        if not isinstance(data, dict):
            data = {"error": response.status_code, "message": str(data)[:200]}
        code = _int(data.get("error"))
        if code is None:
            code = 0 if response.status_code < 400 else response.status_code
        return ApiAnswer(response.status_code, code, data)

    async def groups(self, count: int = 50) -> list[dict[str, Any]]:
        """Every group of the OA (`getgroupsofoa`, paged by offset and count, §3)."""
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            answer = await self.call("GET", "/v3.0/oa/group/getgroupsofoa", params={"offset": offset, "count": count})
            if not answer.ok:
                raise RuntimeError(answer.error)
            data = _obj(answer.data.get("data"))
            page = [g for g in data.get("groups") or [] if isinstance(g, dict)]
            found.extend(page)
            total = _int(data.get("total"))
            offset += len(page)
            if not page or (total is not None and offset >= total):
                return found

    async def members(self, group_id: str, count: int = 50) -> dict[str, str]:
        """The names of a group's members by user id (`listmember`, paged, §3)."""
        names: dict[str, str] = {}
        offset = 0
        while True:
            params = {"group_id": group_id, "offset": offset, "count": count}
            answer = await self.call("GET", "/v3.0/oa/group/listmember", params=params)
            if not answer.ok:
                raise RuntimeError(answer.error)
            data = _obj(answer.data.get("data"))
            page = [m for m in data.get("members") or [] if isinstance(m, dict)]
            for member in page:
                user, name = _id(member.get("user_id")), member.get("name")
                if user and isinstance(name, str) and name.strip():
                    names[user] = name.strip()
            offset += len(page)
            total = _int(data.get("total"))
            if not page or (total is not None and offset >= total):
                return names

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()


# ---------------------------------------------------------------- inbound: signature, events


def signature_candidates(
    raw: bytes, body: Mapping[str, Any], settings: Settings, header_timestamp: str | None = None
) -> dict[str, str]:
    """Every digest a sender could have computed (§4.3, §8.1): sha256 of id + raw body + timestamp + key, the id
    being the app id (documented) or the OA id (reported), the key the OA secret key (documented) or the app
    secret (one spec), the timestamp the body's (documented) or an `X-ZEvent-Timestamp` header (some code)."""
    text = raw.decode("utf-8", "surrogateescape")
    ids = {"app_id": settings.zalo_oa_app_id, "oa_id": str(body.get("oa_id") or "")}
    keys = {"oa_secret_key": settings.zalo_oa_secret_key, "app_secret": settings.zalo_oa_app_secret}
    stamps = {"body_timestamp": str(body.get("timestamp") or ""), "header_timestamp": header_timestamp or ""}
    digests = {}
    for id_name, id_value in ids.items():
        for key_name, key in keys.items():
            for stamp_name, stamp in stamps.items():
                if id_value and key and stamp:
                    joined = (id_value + text + stamp + key).encode("utf-8", "surrogateescape")
                    digests[f"{id_name}+{key_name}+{stamp_name}"] = hashlib.sha256(joined).hexdigest()
    return digests


def matching_variant(raw: bytes, headers: Mapping[str, str], settings: Settings) -> str | None:
    """Which variant of the signature the `X-ZEvent-Signature` header matches (`mac=<hex>` or bare hex), or None."""
    given = (headers.get("x-zevent-signature") or "").strip()
    given = given[4:] if given.lower().startswith("mac=") else given
    given = given.strip().lower()
    if not given:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    found = None
    for name, digest in signature_candidates(raw, body, settings, headers.get("x-zevent-timestamp")).items():
        # Every candidate compared in constant time; the first documented one that matches is reported.
        if hmac.compare_digest(given.encode(), digest.encode()) and found is None:
            found = name
    return found


SIGNATURE_KEYS = {"oa_secret": "oa_secret_key", "app_secret": "app_secret"}
"""ZALO_OA_SIGNATURE_KEY values and the key each names (docs/zalo.md §4.3): `oa_secret`, the documented "Khóa bí
mật OA" (the default), or `app_secret`, which one compiled spec claims; no other key is named by the docs."""


def configured_variant(settings: Settings) -> str:
    """The one signature variant the webhook accepts: the app id, the raw body, the body's timestamp and the key
    ZALO_OA_SIGNATURE_KEY names (by default the OA secret key, as Zalo documents it)."""
    return f"app_id+{SIGNATURE_KEYS[settings.zalo_oa_signature_key]}+body_timestamp"


def _obj(value: object) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else."""
    return value if isinstance(value, dict) else {}


def _id(value: object) -> str | None:
    """A Zalo id (ids are strings, beyond 2^53: never numbers in our hands, §4.5)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    if not text or len(text) > 100 or "\x00" in text:
        return None
    return text


# Lifecycle names differ by source (§4.4, §8.2): every spelling is accepted.
GROUP_CREATED = frozenset({"create_group"})
MEMBER_JOINED = frozenset(
    {"user_join_group", "accept_request_join_group", "react_request_join_group", "react_request_join_group_accept"}
)
MEMBER_LEFT = frozenset({"user_out_group", "user_leave_group"})
GROUP_DISBANDED = frozenset({"delete_group", "disperse_group"})
_MENTION_TOKEN = re.compile(r"\[@([^\[\]\s]{1,64})\]")


def _strip_oa_mention(text: str, oa_id: str | None) -> tuple[str, bool]:
    """Remove `[@<oa_id>]` tokens (a member tagged the OA); report whether there was one."""
    if not oa_id:
        return text, False
    token = f"[@{oa_id}]"
    if token not in text:
        return text, False
    return re.sub(r"\s{2,}", " ", text.replace(token, " ")).strip(), True


def _photo(message: dict[str, Any]) -> str | None:
    for item in message.get("attachments") or []:
        payload = item.get("payload") if isinstance(item, dict) else None
        if isinstance(payload, dict) and item.get("type") in ("image", "gif") and isinstance(payload.get("url"), str):
            return str(payload["url"])
    return None


def _sent_at(body: Mapping[str, Any]) -> datetime | None:
    stamp = _int(body.get("timestamp"))
    if stamp is not None and 0 < stamp < 10**14:
        return datetime.fromtimestamp(stamp / 1000, tz=UTC)
    return None


def group_message(body: dict[str, Any], names: Mapping[str, str]) -> IncomingMessage | None:
    """A `user_send_group_*` event as a neutral message (None without text): the group is `recipient.id`, the
    member `sender.id` (§4.5). The OA receives every message of its groups (§4.6), so a command is recognised
    with or without a tag of the OA; a tag makes a bare command word (`[@OA] ghi vneid 5`) one too."""
    message, sender = _obj(body.get("message")), _obj(body.get("sender"))
    group, user = _id(_obj(body.get("recipient")).get("id")), _id(sender.get("id"))
    text = str(message.get("text")) if isinstance(message.get("text"), str) else ""
    if group is None or user is None:
        return None
    oa_id = _id(body.get("oa_id"))
    text, tagged = _strip_oa_mention(text, oa_id)
    if not text.strip():
        return None
    # Members tagged in the text arrive as `[@<user_id>]` (§2.3): the grammar reads them like any mention.
    mentions = [Mention(user_id=m.group(1), text=m.group(0)) for m in _MENTION_TOKEN.finditer(text)]
    name = sender.get("display_name") or sender.get("name") or names.get(user)
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=group,
        user_id=user,
        display_name=name if isinstance(name, str) and name.strip() else f"Người dùng Zalo {user[-4:]}",
        text=text,
        message_id=_id(message.get("msg_id")),
        chat_type=ChatType.GROUP,
        mentions=mentions,
        addressed_to_bot=tagged,
        photo=_photo(message),
        sent_at=_sent_at(body),
    )


def lifecycle_event(body: dict[str, Any]) -> ChatEvent | None:
    """A group lifecycle event as the ChatEvent it amounts to for the bot: a group created by the OA (or the OA
    joining one) is the bot added; a group disbanded (or the OA leaving) is the bot removed; members joining or
    leaving change nothing the bot keeps."""
    name = str(body.get("event_name"))
    group = _id(body.get("group_id")) or _id((body.get("recipient") or {}).get("id"))
    if group is None:
        return None
    users = {_id(u.get("id")) for u in body.get("users") or [] if isinstance(u, dict)}
    oa_in = _id(body.get("oa_id")) in users
    if name in GROUP_CREATED or (name in MEMBER_JOINED and oa_in):
        return ChatEvent(ChatEventKind.BOT_ADDED, PLATFORM, group)
    if name in GROUP_DISBANDED or (name in MEMBER_LEFT and oa_in):
        return ChatEvent(ChatEventKind.BOT_REMOVED, PLATFORM, group)
    return None


def _event_key(body: dict[str, Any]) -> str:
    """What identifies a redelivery: the message's `msg_id`, else a hash of the event (§4.2)."""
    msg_id = _id(_obj(body.get("message")).get("msg_id"))
    if msg_id:
        return f"msg:{msg_id}"
    parts = [
        body.get("event_name"),
        body.get("group_id"),
        (body.get("recipient") or {}).get("id"),
        (body.get("sender") or {}).get("id"),
        body.get("timestamp"),
        body.get("users"),
    ]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:40]
    return f"evt:{digest}"


def _chat_of(body: dict[str, Any]) -> str:
    return _id(body.get("group_id")) or _id((body.get("recipient") or {}).get("id")) or ""


class ZaloOaChannel:
    """OA webhook events in, checked by their signature and translated once; there is no polling (Zalo only
    delivers OA events to a webhook)."""

    platform = PLATFORM
    webhook_path = "/webhook/zalo-oa"
    secret_header = "X-ZEvent-Signature"

    def __init__(
        self,
        settings: Settings,
        router: Router,
        tokens: OaTokens | None = None,
        client: httpx.AsyncClient | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.router = router
        self.tokens = tokens
        self.api = OaApi(settings, tokens, client) if tokens is not None else None
        self.monotonic = monotonic
        # Members' display names by user id: group events carry only ids (§4.5); `listmember` has the names.
        self.names: dict[str, str] = {}
        self._asked: dict[str, float] = {}
        self._learning: set[asyncio.Task[None]] = set()
        self._variants_seen: set[str] = set()

    async def learn_names(self, group_id: str) -> None:
        """Read a group's member names (`listmember`); a failure is logged, never raised."""
        if self.api is None:
            return
        try:
            self.names.update(await self.api.members(group_id))
        except (TokenDead, TokenUnavailable, RuntimeError, httpx.HTTPError) as exc:
            log.warning("zalo_oa: member names of group %s not read: %s", group_id, exc)

    def _ask_names(self, group_id: str, now_please: bool = False) -> None:
        """Read the group's names in the background: when someone joins it (`now_please`), or at most every
        NAMES_EVERY seconds when a member without a known name writes (that message goes with a stand-in name,
        the next ones with the real one)."""
        now = self.monotonic()
        if self.api is None or (not now_please and now - self._asked.get(group_id, -NAMES_EVERY) < NAMES_EVERY):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._asked[group_id] = now
        task = loop.create_task(self.learn_names(group_id))
        self._learning.add(task)
        task.add_done_callback(self._learning.discard)

    @property
    def webhook_secret(self) -> str:
        """The key of the signature (checked by `verify`, not compared as a header)."""
        return self.settings.zalo_oa_secret_key

    def verify(self, raw: bytes, headers: Mapping[str, str]) -> bool:
        """Whether the body is signed with the configured variant (`configured_variant`). A body signed with another
        variant (the app secret, the OA id, a header timestamp) is refused, and which variant it matched is logged
        once per variant (names only, never a key): the operator sees a misconfiguration, or someone who holds the
        app secret, which travels in every token request, trying to forge events."""
        variant = matching_variant(raw, headers, self.settings)
        expected = configured_variant(self.settings)
        if variant is not None and variant not in self._variants_seen:
            self._variants_seen.add(variant)
            if variant == expected:
                log.info("zalo_oa webhook signature matched the %s variant", variant)
            else:
                log.warning(
                    "zalo_oa webhook call refused: its signature matched the %s variant, not the configured %s "
                    "(ZALO_OA_SIGNATURE_KEY=%s)",
                    variant,
                    expected,
                    self.settings.zalo_oa_signature_key,
                )
        return variant == expected

    async def refresh(self, checked: Checked) -> Checked:
        """Nothing to ask the OA again: the update as checked."""
        return checked

    def check(self, body: object) -> Checked:
        """Validate an OA event and translate it; raises ValueError when it is not one."""
        if not isinstance(body, dict) or not isinstance(body.get("event_name"), str):
            raise ValueError("not a Zalo OA event: event_name missing")
        name = body["event_name"]
        sender = _id((body.get("sender") or {}).get("id")) if isinstance(body.get("sender"), dict) else None
        event: InboundEvent | None = None
        if name.startswith("oa_send_") or (sender is not None and sender == _id(body.get("oa_id"))):
            event = None  # our own sends (and OA Manager's) come back as events: never answer ourselves
        elif name.startswith("user_send_group_"):
            if not isinstance(body.get("recipient"), dict) or not isinstance(body.get("message"), dict):
                raise ValueError("not a Zalo OA group message: recipient or message missing")
            event = group_message(body, self.names)
            if isinstance(event, IncomingMessage) and event.user_id not in self.names:
                self._ask_names(event.chat_id)
        elif name in GROUP_CREATED | MEMBER_JOINED | MEMBER_LEFT | GROUP_DISBANDED:
            event = lifecycle_event(body)
            if name in MEMBER_JOINED and _chat_of(body):
                self._ask_names(_chat_of(body), now_please=True)
        else:
            log.debug("zalo_oa event %s ignored", name)
        return Checked(body=body, key=_event_key(body), chat=_chat_of(body), event=event)

    async def start(self) -> None:
        """Check that a token is stored and usable (refreshing it if due); raises SetupError otherwise."""
        if not self.settings.zalo_oa_secret_key:
            log.warning(
                "zalo_oa: ZALO_OA_SECRET_KEY is empty: webhook calls are answered but not processed until it is set"
            )
        if self.tokens is None:
            return
        try:
            await self.tokens.access_token()
        except TokenDead as exc:
            raise SetupError(f"Zalo OA: {exc}") from exc
        except TokenUnavailable as exc:
            log.warning("zalo_oa: the token endpoint did not answer (%s); retried when sending", exc)
            return
        assert self.api is not None
        try:
            groups = await self.api.groups()
        except (TokenDead, TokenUnavailable, RuntimeError, httpx.HTTPError) as exc:
            log.warning("zalo_oa: the OA's groups could not be listed: %s", exc)
            return
        for group in groups:
            if _id(group.get("group_id")) and group.get("status", "enabled") == "enabled":
                self._asked[str(group["group_id"])] = self.monotonic()
                await self.learn_names(str(group["group_id"]))
        log.info("zalo_oa: %d group(s), %d member name(s) known", len(groups), len(self.names))

    async def register(self, public_base_url: str) -> str:
        """The webhook URL to enter in the app's console (Zalo has no API to set it); HTTPS or SetupError."""
        url = f"{public_base_url.rstrip('/')}{self.webhook_path}"
        if not url.startswith("https://"):
            raise SetupError(
                f"Zalo chỉ gọi webhook HTTPS, còn PUBLIC_BASE_URL cho ra {url}: đặt PUBLIC_BASE_URL=https://..."
            )
        log.info("zalo_oa: the webhook URL to set in the Zalo app console is %s", url)
        return url

    async def set_menu(self) -> None:
        """OA group chats have no command menu."""

    async def poll(self, process: Any, stop: asyncio.Event | None = None) -> None:
        """Zalo delivers OA events only to a webhook: nothing to poll (run `tocns serve` behind HTTPS)."""
        log.warning("zalo_oa: no polling exists for Official Accounts; run `tocns serve` to receive group messages")

    async def close(self) -> None:
        """Release the HTTP clients."""
        for task in list(self._learning):
            task.cancel()
        if self.api is not None:
            await self.api.aclose()
            await self.api.tokens.oauth.aclose()


# ---------------------------------------------------------------- outbound

# The official OA error table (§2.7), for group sends and uploads.
PERMANENT_CODES = frozenset({-201, -210, -233, -238, -241, -248, -100})
QUOTA_CODES = frozenset({-32, -211})


def escape_mentions(text: str) -> str:
    """User text with `[@…]` made inert: `[@<group_id>]` would tag every member (§2.3)."""
    return text.replace("[@", "[\uff20")


def _mention(ref: Any) -> str:
    # A real mention is `[@<user_id>]` (Zalo shows the member's name); ids of other platforms are not OA ids.
    if ref.user_id.isdigit():
        return f"[@{ref.user_id}]"
    return escape_mentions(ref.name)


def to_oa_text(text: str) -> str:
    """Marked outbox text as OA group text: user text escaped, every person a real `[@user_id]` mention."""
    return render(text, escape_mentions, _mention)


def classify(answer: ApiAnswer) -> SendResult:
    """What an OA answer means for the outbox (§2.7): token problems and a package without the feature stop the
    channel (an operator must act; nothing is failed); a rate limit or exhausted quota pauses it with a growing
    wait; -403 (the OA is not in the group) drops the group's binding; -237 (group disabled, its GMF asset
    lapsed) fails the message and keeps the binding for when the asset is renewed; other documented payload
    errors are permanent; anything else is transient."""
    if answer.ok:
        return SendResult(SendStatus.OK)
    code, error = answer.code, answer.error
    if code in TOKEN_CODES or answer.status == 401 or code == -224:
        return SendResult(SendStatus.UNAUTHORIZED, error=error)
    if code in QUOTA_CODES:
        return SendResult(SendStatus.RATE_LIMITED, error=error, pause_platform=True)
    if code == -403:
        return SendResult(SendStatus.PERMANENT, error=f"OA không còn trong nhóm ({error})", chat_gone=True)
    if code == -237:
        log.error(
            "zalo_oa: group disabled (%s): renew its GMF asset (updateasset) or it is disbanded in 45 days", error
        )
        return SendResult(SendStatus.PERMANENT, error=f"nhóm bị vô hiệu hoá, cần gia hạn GMF ({error})")
    if code in PERMANENT_CODES:
        return SendResult(SendStatus.PERMANENT, error=error)
    return SendResult(SendStatus.TRANSIENT, error=error)


class ZaloOaTransport:
    """Sends one outbox message to an OA group (`/v3.0/oa/group/message`); never raises for platform or network
    errors."""

    platform = PLATFORM
    max_text_length = MAX_TEXT
    text_length = staticmethod(utf16_len)
    # A picture or file is uploaded, then sent: two requests against the OA's rate limits.
    requests_per_attachment = 2

    def __init__(
        self,
        settings: Settings,
        tokens: OaTokens,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.clock = clock
        self.api = OaApi(settings, tokens, client)

    async def _call(self, method: str, path: str, **kwargs: Any) -> tuple[SendResult, ApiAnswer | None]:
        try:
            answer = await self.api.call(method, path, **kwargs)
        except TokenDead as exc:
            return SendResult(SendStatus.UNAUTHORIZED, error=str(exc)[:300]), None
        except TokenUnavailable as exc:
            return SendResult(SendStatus.TRANSIENT, error=f"không lấy được token: {exc}"[:300]), None
        except httpx.HTTPError as exc:
            return SendResult(SendStatus.TRANSIENT, error=f"{type(exc).__name__}: {exc}"[:300]), None
        return classify(answer), answer

    async def _message(self, group_id: str, message: dict[str, Any]) -> SendResult:
        body = {"recipient": {"group_id": group_id}, "message": message}
        result, _ = await self._call("POST", "/v3.0/oa/group/message", json=body)
        return result

    def _link_text(self, attachment: Attachment) -> str:
        if not can_sign(self.settings):
            log.warning("LINK_SIGNING_SECRET empty: %s for zalo_oa sent as a note", attachment.filename)
            return f"📎 {attachment.filename}: chưa gửi được qua Zalo (máy chủ chưa bật liên kết tải tệp)."
        root = Path(self.settings.files_dir).resolve()
        known = Path(attachment.path).resolve() if attachment.path else None
        path = known if known is not None and known.is_file() and known.is_relative_to(root) else None
        path = path or save_attachment(self.settings.files_dir, attachment)
        link = sign_url(self.settings, path, self.clock())
        return f"📎 {attachment.filename} (tải về trong {self.settings.signed_link_days} ngày): {link}"

    async def _attachment(self, group_id: str, attachment: Attachment) -> SendResult:
        """Upload then send (an image as media, a document as a file); a file Zalo will not take (type, size)
        goes as a signed link instead."""
        image = attachment.mime_type in IMAGE_TYPES and len(attachment.content) <= IMAGE_UPLOAD_MAX
        if not image and (attachment.is_image or len(attachment.content) > FILE_UPLOAD_MAX):
            return await self._message(group_id, {"text": self._link_text(attachment)})
        path = "/v2.0/oa/upload/image" if image else "/v2.0/oa/upload/file"
        files = {"file": (attachment.filename, attachment.content, attachment.mime_type)}
        result, answer = await self._call("POST", path, files=files)
        if answer is None or result.status != SendStatus.OK:
            if result.status == SendStatus.PERMANENT:
                # The upload refuses this type (xlsx, seen converted to csv by a live script, §2.4) or size.
                log.info("zalo_oa upload refused %s (%s); sending a link", attachment.filename, result.error)
                return await self._message(group_id, {"text": self._link_text(attachment)})
            return result
        data = answer.data.get("data") if isinstance(answer.data.get("data"), dict) else {}
        if image:
            element = {"media_type": "image", "attachment_id": str((data or {}).get("attachment_id", ""))}
            payload = {"template_type": "media", "elements": [element]}
            return await self._message(group_id, {"attachment": {"type": "template", "payload": payload}})
        token = str((data or {}).get("token", ""))
        return await self._message(group_id, {"attachment": {"type": "file", "payload": {"token": token}}})

    async def send(
        self, chat_id: str, text: str, attachments: list[Attachment], skip: int = 0, thread_id: str | None = None
    ) -> SendResult:
        """Send text (split at 2,000 UTF-16 units, people as real mentions), then each attachment, from piece `skip`
        on."""
        body = to_oa_text(text) if text else ""
        pieces: list[str | Attachment] = [
            *(split_chunks(body, MAX_TEXT, length=utf16_len) if body else []),
            *attachments,
        ]
        done = min(skip, len(pieces))
        for piece in pieces[done:]:
            if isinstance(piece, str):
                result = await self._message(chat_id, {"text": piece})
            else:
                result = await self._attachment(chat_id, piece)
            if result.status != SendStatus.OK:
                return replace(result, parts_sent=done)
            done += 1
        return SendResult(SendStatus.OK, parts_sent=done)

    async def close(self) -> None:
        """Close the HTTP clients."""
        await self.api.aclose()
        await self.tokens.oauth.aclose()
