"""A strict fake GapoWork: the bot message API as an httpx transport, and the webhook events it would send.

Built from the "must refuse" list of ../shared/platforms/gapowork.md §6 (status codes are the fake's choice, GapoWork
publishes none):
1. a send without `x-gapo-api-key`, or with `Authorization: Bearer|Bot ...` instead → 401;
2. a body with zero or two or more of `thread_id` / `receiver_id` / `collab_id` → 400;
3. a missing `bot_id`, or one that does not own the key → 403;
4. an unknown `body.type`, `text` without text, `quick_replies` without `metadata.options[].{title,payload}` → 400;
5. a `thread_id` / `collab_id` of a chat the bot is not in (never added, or removed) → 404;
6. ids sent as floats, or rounded (a 19-digit id gone through a float) → 400;
7. image and file body types → 400 (no source shows them for bots);
8. webhook side: `thread_created` comes before a person's first 1:1 `message_created`; nothing is signed; the first
   message event is delivered twice with the same `id` (dedupe).
Also, as assumed by the bot (§2 [I]): visible text over 2,000 characters → 400; every group message is delivered,
not only commands and mentions (§3, open question 1).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import httpx

BASE = "http://fake-gapowork.test"
SEND_PATH = "/3rd-bot/v1.0/3rd/messages"
BOT_ID = 5828367940457829714  # 19 digits, above 2**53: a float would round it
TOKEN = "gapo-bot-key-Zx81Qw62Lm"
SECRET = "gw-webhook-secret-7fK2pQ9xR4tV8bN3"
TEXT_MAX = 2000
BODY_TYPES = frozenset({"text", "quick_replies", "carousel", "dynamic"})
TARGETS = ("thread_id", "receiver_id", "collab_id")

_ids = itertools.count(7_100_000_000_000_000_001)


class _FloatSeen(Exception):
    """A JSON number with a fraction or exponent: ids must be integers."""


def _no_float(text: str) -> float:
    raise _FloatSeen(text)


def _error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"code": status, "message": message})


@dataclass
class Thread:
    """A conversation: a group chat (the bot in it or not) or a person's 1:1 chat with the bot."""

    thread_id: int
    kind: str  # "group" or "direct"
    name: str = ""
    bot_in: bool = True
    collab_id: int | None = None


@dataclass
class FakeGapoWork:
    """The workspace: its threads and users; `messages` records every accepted send as (key, id, body)."""

    users: dict[int, str] = field(default_factory=dict)
    threads: dict[int, Thread] = field(default_factory=dict)
    messages: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    # Statuses the next sends are answered with (429, 500, 401...), one per send, before normal service.
    fail_next: list[int] = field(default_factory=list)
    redelivered: bool = False

    # ------------------------------------------------------------------ workspace set-up

    def group(self, name: str, bot_in: bool = True) -> int:
        """A group chat (its owner added the bot unless `bot_in` is False); its thread id."""
        thread = Thread(next(_ids), "group", name, bot_in, collab_id=next(_ids))
        self.threads[thread.thread_id] = thread
        return thread.thread_id

    def user(self, name: str) -> int:
        """A member of the organisation; their user id."""
        user_id = next(_ids)
        self.users[user_id] = name
        return user_id

    def remove_bot(self, thread_id: int) -> None:
        """The chat owner removes the bot from a group chat."""
        self.threads[thread_id].bot_in = False

    def _direct(self, user_id: int) -> Thread | None:
        return next((t for t in self.threads.values() if t.kind == "direct" and t.name == str(user_id)), None)

    # ------------------------------------------------------------------ webhook events (GapoWork → bot)

    def _event(self, thread: Thread, user_id: int, message: dict[str, Any]) -> dict[str, Any]:
        message = {
            "id": str(next(_ids)),
            "metadata": {},
            "payload": None,
            **message,
            "thread": {"id": thread.thread_id, "type": thread.kind, "name": thread.name},
            "user": {"id": user_id, "name": self.users[user_id]},
        }
        return {
            "id": f"evt-{next(_ids)}",
            "event": "message_created",
            "thread_id": thread.thread_id,
            "from_user_id": user_id,
            "to_bot_id": BOT_ID,
            "message": message,
        }

    def _deliver(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # The first message event ever is delivered twice, same id: the bot must answer once.
        if not self.redelivered:
            for event in events:
                if event["event"] == "message_created":
                    self.redelivered = True
                    return [*events, event]
        return events

    def say(
        self, user_id: int, text: str, thread_id: int | None = None, mentions: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """The events a line typed by `user_id` produces: in a group chat, or (no thread) privately to the bot."""
        events: list[dict[str, Any]] = []
        if thread_id is None:
            thread = self._direct(user_id)
            if thread is None:
                thread = Thread(next(_ids), "direct", str(user_id))
                self.threads[thread.thread_id] = thread
                # The 1:1 thread is created first (§1), then the message arrives.
                events.append(
                    {
                        "id": f"evt-{next(_ids)}",
                        "event": "thread_created",
                        "thread_id": thread.thread_id,
                        "from_user_id": user_id,
                        "to_bot_id": BOT_ID,
                    }
                )
        else:
            thread = self.threads[thread_id]
            if not thread.bot_in:
                return []  # a chat without the bot sends it nothing
        metadata = {"mentions": mentions} if mentions else {}
        events.append(self._event(thread, user_id, {"text": text, "type": "text", "metadata": metadata}))
        return self._deliver(events)

    def tap(self, user_id: int, payload: str, thread_id: int | None = None, kind: str = "quick_reply") -> list[Any]:
        """A quick-reply (or menu) button tapped by `user_id`: its payload comes back as the message's payload."""
        thread = self.threads[thread_id] if thread_id is not None else self._direct(user_id)
        assert thread is not None, "a private button tap needs a 1:1 thread with the bot"
        return self._deliver([self._event(thread, user_id, {"text": "", "type": kind, "payload": payload})])

    # ------------------------------------------------------------------ what the bot sent

    def sent_to(self, key: str, target: int) -> list[dict[str, Any]]:
        """Bodies accepted for one recipient (key: thread_id, receiver_id or collab_id)."""
        return [b for k, t, b in self.messages if (k, t) == (key, target)]

    def texts(self, key: str, target: int) -> list[str]:
        """What people read in one chat, one entry per message (the plain form of a Markdown text)."""
        return [b.get("tmp_text") or b.get("text", "") for b in self.sent_to(key, target)]

    def buttons(self, key: str, target: int) -> list[list[dict[str, str]]]:
        """The quick-reply options of each message sent to one chat (empty for plain text)."""
        return [b.get("metadata", {}).get("options", []) for b in self.sent_to(key, target)]

    # ------------------------------------------------------------------ serving

    def client(self) -> httpx.AsyncClient:
        """An httpx client whose requests this fake answers."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler), base_url=BASE)

    def _refuse(self, status: int, message: str) -> httpx.Response:
        self.refused.append((status, message))
        return _error(status, message)

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as GapoWork would, refusing what §6 lists."""
        if request.method != "POST" or request.url.path != SEND_PATH:
            return self._refuse(404, "not found")
        if "x-gapo-api-key" not in request.headers:
            return self._refuse(401, "missing x-gapo-api-key")  # Bearer or Bot authorization is not how it works
        if request.headers["x-gapo-api-key"] != TOKEN:
            return self._refuse(401, "invalid api key")
        try:
            payload = json.loads(request.content, parse_float=_no_float)
        except _FloatSeen:
            return self._refuse(400, "ids must be integers")
        except ValueError:
            return self._refuse(400, "body is not JSON")
        if not isinstance(payload, dict):
            return self._refuse(400, "body is not an object")
        if "bot_id" not in payload:
            return self._refuse(403, "bot_id missing")
        if payload["bot_id"] != BOT_ID:
            if _rounded(payload["bot_id"]):
                return self._refuse(400, "bot_id rounded")
            return self._refuse(403, "bot_id does not own this key")
        given = [k for k in TARGETS if k in payload]
        if len(given) != 1:
            return self._refuse(400, f"exactly one of {', '.join(TARGETS)} is required, got {given}")
        key = given[0]
        target = payload[key]
        if isinstance(target, str) and target.isdigit():
            target = int(target)  # one client sends collab_id as a string (§2)
        if not isinstance(target, int) or isinstance(target, bool):
            return self._refuse(400, f"{key} must be an integer")
        problem = self._body_problem(payload.get("body"))
        if problem:
            return self._refuse(400, problem)
        if key == "receiver_id" and target not in self.users:
            return self._refuse(400 if _rounded(target) else 404, "receiver not found")
        if key == "thread_id":
            thread = self.threads.get(target)
            if thread is None or not thread.bot_in:
                return self._refuse(400 if _rounded(target) else 404, "bot is not a member of this thread")
        if key == "collab_id":
            group = next((t for t in self.threads.values() if t.collab_id == target), None)
            if group is None or not group.bot_in:
                return self._refuse(404, "bot is not a member of this collab")
        if self.fail_next:
            status = self.fail_next.pop(0)
            return _error(status, "scripted failure")
        self.messages.append((key, target, payload["body"]))
        return httpx.Response(200, json={"data": {"message_id": next(_ids)}})

    def _body_problem(self, body: object) -> str | None:
        if not isinstance(body, dict):
            return "body missing"
        kind = body.get("type")
        if kind in ("image", "file", "video", "media"):
            return f"body.type {kind} is not supported for bots"
        if kind not in BODY_TYPES:
            return f"unknown body.type {kind!r}"
        if kind in ("text", "quick_replies"):
            text = body.get("text")
            if not isinstance(text, str) or not text:
                return f"{kind} without text"
            visible = body.get("tmp_text") if isinstance(body.get("tmp_text"), str) else text
            if len(visible) > TEXT_MAX:
                return f"text longer than {TEXT_MAX}"
            for mention in (body.get("metadata") or {}).get("mentions") or []:
                if not isinstance(mention.get("target"), int) or mention["target"] not in self.users:
                    return "mention of an unknown user"
        if kind == "quick_replies":
            options = (body.get("metadata") or {}).get("options")
            if not isinstance(options, list) or not options:
                return "quick_replies without metadata.options"
            for option in options:
                if not isinstance(option, dict) or not option.get("title") or not option.get("payload"):
                    return "quick_replies option without title or payload"
        return None


def _rounded(value: object) -> bool:
    """Whether an id looks like a 19-digit id that went through a float (it survives a float round trip)."""
    return isinstance(value, int) and value > 2**53 and int(float(value)) == value
