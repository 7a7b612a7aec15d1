"""A fake Zalo Official Account (OA API v3, OAuth v4, GMF group chats) as an httpx transport.

What it enforces, from ../shared/platforms/zalo.md (section numbers are that file's):
- §1.2 the token endpoint `POST /v4/oa/access_token`: form-encoded, `app_id` in the form, the app secret in a
  `secret_key` header; `expires_in` is the string "90000"; a refresh token is single-use: each refresh answers a new
  pair and the old refresh token is refused from then on (`-14020`, §1.4, with HTTP 200); an authorization code
  works once;
- §1.4/§2.7 every OpenAPI answer is `{data?, error, message}` with HTTP 200; a missing or unknown `access_token`
  header is `-216`, an expired one `-220`;
- §2.2/§2.3 `POST /v3.0/oa/group/message` with `{recipient:{group_id}, message:{text | attachment}}`; the group must
  be the OA's (`-201` otherwise), the OA in it (`-403`), the group enabled (`-237`); text 1-2,000 UTF-16 units
  (§2.6, assumed; `-210` over it); media by an uploaded `attachment_id`, files by an uploaded `token`;
- §2.4 uploads on v2.0 (multipart field `file`): images jpg/png up to 1 MB, files pdf/doc/docx/csv up to 5 MB
  (xlsx refused, as a live script's conversion suggests); `-210` over the size;
- §2.8 4,000 requests a minute per app (`-32` over it), or `rate_limited` set by a test;
- §3 `GET /v3.0/oa/group/getgroupsofoa` and `GET /v3.0/oa/group/listmember` with `offset` and `count` (default 5);
- §4.3 webhook calls signed `X-ZEvent-Signature: mac=<sha256(app_id + raw body + timestamp + OA secret key)>`.
The wording of the messages is the fake's own; the codes are the documented ones, except `-14001` (a wrong
grant_type) and `-14019` (an unknown or used authorization code), which no source gives: any non-zero OAuth error
is terminal (§1.4), whatever its number.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

import httpx

APP_ID = "360846524940903967"
APP_SECRET = "oa-app-secret-Qw12Er34"
SECRET_KEY = "oa-secret-key-Ty56Ui78"
OA_ID = "388613280878808645"
BASE = "http://fake-zalo-oa.test"
FIRST_REFRESH = "rt-bootstrap-0001"
GROUP = "f414c8f76fa586fbdfb4"
# Zalo user ids (as the OA sees them) of the commune leader and a member in the OA tests.
OA_LEADER, OA_MEMBER = "8756287263669629130", "2468135790246813579"

IMAGE_MAX = 1_000_000
FILE_MAX = 5_000_000
FILE_TYPES = (".pdf", ".doc", ".docx", ".csv")
TEXT_MAX = 2000
PER_MINUTE = 4000

_ids = itertools.count(1)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def envelope(code: int, message: str, data: Any = None) -> httpx.Response:
    """An OpenAPI answer: HTTP 200 whatever happened, the outcome in `error`."""
    body: dict[str, Any] = {"error": code, "message": message}
    if data is not None:
        body["data"] = data
    return httpx.Response(200, json=body)


class FakeZaloOa:
    """The OA's servers: token endpoint, group messages, uploads, group list; `calls` records (method, path, body)."""

    def __init__(self, groups: dict[str, dict[str, Any]] | None = None, refresh_token: str = FIRST_REFRESH) -> None:
        self.refresh_token: str | None = refresh_token
        self.access_tokens: dict[str, int] = {}  # token -> error code it is answered with (0: valid)
        self.codes: set[str] = set()
        self.groups: dict[str, dict[str, Any]] = (
            groups
            if groups is not None
            else {GROUP: {"name": "Tổ CNS Xã Tân Lập", "status": "enabled", "oa_in": True, "total_member": 12}}
        )
        self.calls: list[tuple[str, str, Any]] = []
        self.refreshes = 0
        self.uploads: dict[str, dict[str, Any]] = {}
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.rate_limited = False
        self.fail_sends: list[int] = []  # error codes the next group sends are answered with
        self.tokens_used: list[str | None] = []  # the access_token header of every OpenAPI call, in order
        self._minute: list[float] = []

    # ------------------------------------------------------------------ test controls

    def expire_access_tokens(self, code: int = -216) -> None:
        """Every access token handed out so far is refused from now on with `code` (-216 invalid, -220 expired)."""
        for token in self.access_tokens:
            self.access_tokens[token] = code

    def texts(self, group_id: str | None = None) -> list[str]:
        """Texts delivered to the groups (one entry per message), optionally of one group."""
        return [m["text"] for g, m in self.messages if "text" in m and group_id in (None, g)]

    def sent(self, path: str) -> list[Any]:
        """Bodies of the calls to one path."""
        return [b for _, p, b in self.calls if p == path]

    # ------------------------------------------------------------------ serving

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Serve one request as Zalo's servers would."""
        path = request.url.path
        if path == "/v4/oa/access_token":
            return self._token(request)
        self._minute = [t for t in self._minute if t > time.monotonic() - 60]
        self._minute.append(time.monotonic())
        if self.rate_limited or len(self._minute) > PER_MINUTE:
            self.calls.append((request.method, path, None))
            return envelope(-32, "Your application/OA reached limit call api")
        token = request.headers.get("access_token")
        self.tokens_used.append(token)
        if "authorization" in request.headers and token is None:
            self.calls.append((request.method, path, None))
            return envelope(-216, "Access token is invalid")  # a Bearer header is not how the OA API is called
        if token not in self.access_tokens or self.access_tokens[token] == -216:
            self.calls.append((request.method, path, None))
            return envelope(-216, "Access token is invalid")
        if self.access_tokens[token] == -220:
            self.calls.append((request.method, path, None))
            return envelope(-220, "access_token is expired or removed")
        if path == "/v3.0/oa/group/message" and request.method == "POST":
            return self._group_message(request)
        if path in ("/v2.0/oa/upload/image", "/v2.0/oa/upload/file") and request.method == "POST":
            return self._upload(request, image=path.endswith("image"))
        if path == "/v3.0/oa/group/getgroupsofoa" and request.method == "GET":
            return self._groups(request)
        if path == "/v3.0/oa/group/listmember" and request.method == "GET":
            return self._members(request)
        self.calls.append((request.method, path, None))
        return envelope(-201, "api is invalid")

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.calls.append(("POST", request.url.path, form))
        if form.get("app_id") != APP_ID or request.headers.get("secret_key") != APP_SECRET:
            return httpx.Response(200, json={"error": -14002, "error_name": "Invalid appId", "error_description": ""})
        grant = form.get("grant_type")
        if grant == "refresh_token":
            if not self.refresh_token or form.get("refresh_token") != self.refresh_token:
                return httpx.Response(
                    200,
                    json={
                        "error": -14020,
                        "error_name": "Invalid refresh token",
                        "error_description": "refresh token is invalid or was already used",
                    },
                )
            self.refreshes += 1
        elif grant == "authorization_code":
            code = form.get("code")
            if code not in self.codes:
                return httpx.Response(
                    200, json={"error": -14019, "error_name": "Invalid code", "error_description": ""}
                )
            self.codes.discard(code)  # type: ignore[arg-type]
        else:
            return httpx.Response(200, json={"error": -14001, "error_name": "Invalid grant_type"})
        n = next(_ids)
        access, refresh = f"at-{n:04d}-{'x' * 12}", f"rt-{n:04d}-{'y' * 12}"
        self.access_tokens[access] = 0
        self.refresh_token = refresh  # the previous one is dead from now on
        return httpx.Response(200, json={"access_token": access, "refresh_token": refresh, "expires_in": "90000"})

    def _group_message(self, request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.content)
        except ValueError:
            body = None
        self.calls.append(("POST", request.url.path, body))
        if not isinstance(body, dict) or not isinstance(body.get("recipient"), dict):
            return envelope(-201, "recipient is invalid")
        group_id = body["recipient"].get("group_id")
        group = self.groups.get(group_id) if isinstance(group_id, str) else None
        if group is None:
            return envelope(-201, "group_id is invalid")
        if not group.get("oa_in", True):
            return envelope(-403, "OA is not in group")
        if group.get("status") != "enabled":
            return envelope(-237, "The group is disabled")
        if self.fail_sends:
            return envelope(self.fail_sends.pop(0), "scripted failure")
        message = body.get("message")
        if not isinstance(message, dict):
            return envelope(-201, "message is invalid")
        problem = self._message_problem(message)
        if problem:
            return envelope(problem[0], problem[1])
        self.messages.append((group_id, message))
        return envelope(0, "Success", {"message_id": f"gm{next(_ids):016x}", "group_id": group_id})

    def _message_problem(self, message: dict[str, Any]) -> tuple[int, str] | None:
        attachment = message.get("attachment")
        text = message.get("text")
        if attachment is None:
            if not isinstance(text, str) or not text:
                return -201, "text is invalid"
            if utf16_len(text) > TEXT_MAX:
                return -210, "text exceeds limit"
            return None
        if not isinstance(attachment, dict):
            return -201, "attachment is invalid"
        payload = attachment.get("payload") or {}
        if attachment.get("type") == "file":
            upload = self.uploads.get(payload.get("token"))
            return None if upload and upload["kind"] == "file" else (-201, "token is invalid")
        if attachment.get("type") == "template" and payload.get("template_type") == "media":
            elements = payload.get("elements") or []
            if len(elements) != 1 or not isinstance(elements[0], dict):
                return -201, "elements is invalid"
            element = elements[0]
            if "url" in element and "attachment_id" in element:
                return -201, "url and attachment_id together"
            upload = self.uploads.get(element.get("attachment_id"))
            if "url" not in element and not (upload and upload["kind"] == "image"):
                return -201, "attachment_id is invalid"
            return None
        return -233, "message type is not supported"

    def _upload(self, request: httpx.Request, image: bool) -> httpx.Response:
        parts = _multipart(request)
        self.calls.append(("POST", request.url.path, {k: (n, len(c)) for k, (n, c, _) in parts.items()}))
        if "file" not in parts:
            return envelope(-201, "file is invalid")
        name, content, _ = parts["file"]
        lowered = name.lower()
        if image:
            if not (content.startswith(b"\x89PNG") or content.startswith(b"\xff\xd8")):
                return envelope(-201, "file type is invalid")
            if len(content) > IMAGE_MAX:
                return envelope(-210, "file size exceeds limit")
            key = f"img{next(_ids):012x}"
            self.uploads[key] = {"kind": "image", "name": name}
            return envelope(0, "Success", {"attachment_id": key})
        if not lowered.endswith(FILE_TYPES):
            return envelope(-201, "file type is invalid")
        if len(content) > FILE_MAX:
            return envelope(-210, "file size exceeds limit")
        key = f"file{next(_ids):012x}"
        self.uploads[key] = {"kind": "file", "name": name, "content": content}
        return envelope(0, "Success", {"token": key})

    def _groups(self, request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("offset", "0"))
        count = int(request.url.params.get("count", "5"))
        self.calls.append(("GET", request.url.path, {"offset": offset, "count": count}))
        mine = [(gid, g) for gid, g in self.groups.items() if g.get("oa_in", True)]
        page = [
            {
                "group_id": gid,
                "name": g["name"],
                "avatar": "",
                "group_link": f"https://zalo.me/g/{gid[:6]}",
                "group_description": "",
                "total_member": g.get("total_member", 3),
                "status": g.get("status", "enabled"),
            }
            for gid, g in mine[offset : offset + count]
        ]
        data = {"offset": offset, "count": len(page), "total": len(mine), "group_count": len(mine), "groups": page}
        return envelope(0, "Success", data)

    def _members(self, request: httpx.Request) -> httpx.Response:
        group_id = request.url.params.get("group_id", "")
        offset = int(request.url.params.get("offset", "0"))
        count = int(request.url.params.get("count", "5"))
        self.calls.append(("GET", request.url.path, {"group_id": group_id, "offset": offset, "count": count}))
        group = self.groups.get(group_id)
        if group is None:
            return envelope(-201, "group_id is invalid")
        members = [{"user_id": uid, "name": name, "avatar": ""} for uid, name in group.get("members", {}).items()]
        members.insert(0, {"oa_id": OA_ID, "name": "Tổ CNS Tỉnh Thử", "avatar": ""})  # the OA is a member too
        page = members[offset : offset + count]
        return envelope(0, "Success", {"total": len(members), "member_count": len(page), "members": page})

    def client(self) -> httpx.AsyncClient:
        """An httpx client routed to this fake; each answer yields to the event loop first, as a network would."""

        async def handle(request: httpx.Request) -> httpx.Response:
            await request.aread()
            await asyncio.sleep(0.01)
            return self.handler(request)

        return httpx.AsyncClient(transport=httpx.MockTransport(handle))


def _multipart(request: httpx.Request) -> dict[str, tuple[str, bytes, str]]:
    """The parts of a multipart/form-data body: field -> (filename, content, content type)."""
    head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.content)
    parts: dict[str, tuple[str, bytes, str]] = {}
    if not message.is_multipart():
        return parts
    for part in message.iter_parts():
        field = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(field, str) and isinstance(payload, bytes):
            parts[field] = (part.get_filename() or "", payload, part.get_content_type())
    return parts


# ---------------------------------------------------------------- webhook events, signed as Zalo signs them


def _now_ms() -> str:
    return str(1795000000000 + next(_ids))


def group_text(
    text: str, *, user_id: str = "8756287263669629130", group_id: str = GROUP, msg_id: str | None = None
) -> dict[str, Any]:
    """A member's text in a GMF group, as the webhook delivers it (§4.5: group in recipient.id, user in sender.id)."""
    return {
        "app_id": APP_ID,
        "oa_id": OA_ID,
        "user_id_by_app": f"app-{user_id}",
        "event_name": "user_send_group_text",
        "sender": {"id": user_id},
        "recipient": {"id": group_id},
        "message": {"msg_id": msg_id or f"msg{next(_ids):016x}", "text": text},
        "timestamp": _now_ms(),
    }


def oa_echo(text: str, group_id: str = GROUP) -> dict[str, Any]:
    """The echo of the OA's own send (§4.2)."""
    body = group_text(text, user_id=OA_ID, group_id=group_id)
    body["event_name"] = "oa_send_group_text"
    return body


def lifecycle(event_name: str, group_id: str = GROUP, users: list[str] | None = None) -> dict[str, Any]:
    """A group lifecycle event (§4.5: `group_id` and `users[]` at the top)."""
    return {
        "event_name": event_name,
        "app_id": APP_ID,
        "oa_id": OA_ID,
        "group_id": group_id,
        "users": [{"id": u} for u in users or []],
        "timestamp": _now_ms(),
    }


def signed(
    body: dict[str, Any],
    *,
    key: str = SECRET_KEY,
    id_field: str = "app_id",
    prefix: bool = True,
    header_timestamp: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers of a webhook call: `X-ZEvent-Signature: mac=sha256(id + body + timestamp + key)`,
    as Zalo documents it (§4.3); the other variants sources report (the app secret as key, the OA id, a timestamp
    sent in an `X-ZEvent-Timestamp` header) on request, to prove the bot refuses them."""
    raw = json.dumps(body, ensure_ascii=False).encode()
    ident = APP_ID if id_field == "app_id" else str(body.get("oa_id"))
    stamp = header_timestamp if header_timestamp is not None else str(body["timestamp"])
    digest = hashlib.sha256((ident + raw.decode() + stamp + key).encode()).hexdigest()
    headers = {"Content-Type": "application/json", "X-ZEvent-Signature": f"mac={digest}" if prefix else digest}
    if header_timestamp is not None:
        headers["X-ZEvent-Timestamp"] = header_timestamp
    return raw, headers


async def deliver(client: httpx.AsyncClient, body: dict[str, Any], **variant: Any) -> httpx.Response:
    """POST one signed event to the bot's webhook, as Zalo does."""
    raw, headers = signed(body, **variant)
    return await client.post("/webhook/zalo-oa", content=raw, headers=headers)
