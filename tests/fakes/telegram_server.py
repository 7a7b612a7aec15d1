"""The fake Telegram Bot API of the tests: a real local HTTP server that answers what PTB sends as the Bot API
documents it (getMe, getUpdates, webhooks, menus, sends), records every call, and injects faults."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

from tests.fakes.local_server import LocalServer

# The token and base URL in the test settings (tests.fakes.platforms); a channel talks to a running TelegramServer at
# its own base_url. The server accepts any token.
TOKEN = "123456:TEST-telegram-token"
BASE = "http://fake-telegram.test"
SEND_METHODS = {"sendMessage", "sendPhoto", "sendDocument"}
TAP_METHODS = {"answerCallbackQuery", "editMessageText"}
MAX_CALLBACK_DATA = 64  # bytes of an inline button's callback_data (Bot API: 1-64 bytes)
MAX_ANSWER_TEXT = 200  # characters of answerCallbackQuery's text (Bot API: 0-200)
SETUP_METHODS = {"setWebhook", "deleteWebhook", "setMyCommands"}


@dataclass(frozen=True)
class Call:
    """One request the server received: when (monotonic), what, to whom, and how it answered."""

    at: float
    method: str
    chat_id: str
    text: str
    status: int
    # The entities the message got, as Telegram would show them: ("text_mention", user id) for a link to a user,
    # ("mention", "@username") for a username written in the text.
    entities: tuple[tuple[str, str], ...] = ()
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """An answer to inject: 429 (retry_after), 500, 403, 400 (chat not found), migrate, a timeout (sleep), or
    "pass" (answer normally: lets a script fault a later request)."""

    kind: str
    retry_after: int = 1
    sleep: float = 0.0
    new_chat_id: int = 0


@dataclass
class FakeTelegram:
    """Scripted faults per chat, random 429/5xx rates, and the record of every call."""

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    retry_after: int = 1
    seed: int = 7
    gone: set[str] = field(default_factory=set)
    scripted: dict[str, deque[Fault]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Update bodies getUpdates hands out (all at once); when empty it answers [] after a short wait.
    updates: list[dict[str, object]] = field(default_factory=list)
    # The webhook URL as the last accepted setWebhook left it (getWebhookInfo reports it).
    webhook_url: str = ""
    # The command menus set, by (scope type, language code): the command names in order.
    menus: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # BotFather's privacy mode is on by default: the bot does not read all group messages.
    reads_all_group_messages: bool = False
    # When set, getWebhookInfo reports this URL instead (another deployment took the webhook over).
    reported_url: str | None = None
    # Called (from the server's thread) when getUpdates finds nothing to hand out, before it answers.
    on_empty: Callable[[], None] | None = None
    # Every message the bot sent and still shows, by (chat id, message id): its visible text and inline keyboard.
    messages: dict[tuple[str, int], dict[str, object]] = field(default_factory=dict)
    # Callback queries handed to the bot and not answered yet (a query is answered once).
    open_queries: set[str] = field(default_factory=set)
    _next_query: int = 1
    # Files people sent (photos), by file id: (file_path, content), served by getFile and /file/bot<token>/<path>.
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    # The next this many file downloads answer 500 (a flaky file server).
    failing_downloads: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def script(self, chat_id: str, *faults: Fault) -> None:
        """Answer the next requests to this chat with these faults, in order."""
        self.scripted.setdefault(chat_id, deque()).extend(faults)

    def fault_for(self, chat_id: str) -> Fault | None:
        """The fault to answer with now, if any."""
        with self.lock:
            if chat_id in self.gone:
                return Fault("403")
            queue = self.scripted.get(chat_id)
            if queue:
                return queue.popleft()
            roll = self.rng.random()
            if roll < self.rate_429:
                return Fault("429", retry_after=self.retry_after)
            if roll < self.rate_429 + self.rate_5xx:
                return Fault("500")
            return None

    def record(
        self,
        method: str,
        chat_id: str,
        text: str,
        status: int,
        entities: tuple[tuple[str, str], ...] = (),
        params: dict[str, str] | None = None,
    ) -> None:
        """Keep one call, stamped with the server's own clock."""
        with self.lock:
            self.calls.append(Call(time.monotonic(), method, chat_id, text, status, entities, params or {}))

    def tap(self, chat_id: str, message_id: int, user: dict[str, object], label: str) -> dict[str, object]:
        """A callback_query update for `user` tapping the button `label` under a message the bot sent, shaped as
        Telegram sends it (the message with its text and keyboard); the query then waits for its answer."""
        with self.lock:
            sent = self.messages[(chat_id, message_id)]
            self._next_query += 1
            query_id = f"{4000000000000000000 + self._next_query}"
            self.open_queries.add(query_id)
        keyboard = sent.get("reply_markup") or {"inline_keyboard": []}
        data = next(b["callback_data"] for row in keyboard["inline_keyboard"] for b in row if b["text"] == label)
        chat_int = int(chat_id)
        chat = {"id": chat_int, "type": "private"} if chat_int > 0 else {"id": chat_int, "type": "group", "title": "Xã"}
        message = {
            "message_id": message_id,
            "date": 1795000000,
            "chat": chat,
            "from": {"id": 999, "is_bot": True, "first_name": "Tổ CNS", "username": "ToCNSBot"},
            "text": sent["text"],
            "reply_markup": keyboard,
        }
        query = {"id": query_id, "from": user, "chat_instance": "1", "message": message, "data": data}
        return {"update_id": self._next_query + 900000, "callback_query": query}

    # -- what the tests check -------------------------------------------------

    def delivered(self) -> list[Call]:
        """The sends answered 200 (messages the chat really got)."""
        with self.lock:
            return [c for c in self.calls if c.status == 200 and c.method in SEND_METHODS]

    def methods(self) -> list[str]:
        """Every method called, in order."""
        with self.lock:
            return [c.method for c in self.calls]

    def params(self, method: str) -> list[dict[str, str]]:
        """The parameters of every call of `method`, in order (as sent: JSON-serialised values stay strings)."""
        with self.lock:
            return [c.params for c in self.calls if c.method == method]

    def delivered_per_chat(self) -> Counter[str]:
        """How many messages each chat got."""
        return Counter(c.chat_id for c in self.delivered())

    def max_in_window(self, seconds: float, chat_id: str | None = None) -> int:
        """The most send requests the server received in any window of `seconds` (all chats or one)."""
        with self.lock:
            times = sorted(c.at for c in self.calls if c.method in SEND_METHODS and chat_id in (None, c.chat_id))
        best, start = 0, 0
        for end, t in enumerate(times):
            while times[start] <= t - seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    def max_per_chat_in_window(self, seconds: float) -> int:
        """The most send requests any single chat received in any window of `seconds`."""
        chats = {c.chat_id for c in self.calls}
        return max((self.max_in_window(seconds, chat) for chat in chats), default=0)


_HTML_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
    "span",
}
_HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_USERNAME = re.compile(r"(?<![\w@])@([A-Za-z][A-Za-z0-9_]{4,31})\b")


class EntityError(ValueError):
    """Telegram's "Bad Request: can't parse entities" (text that is not valid for its parse_mode)."""


class _TelegramHtml(HTMLParser):
    """Telegram's HTML parse mode, as documented: a few tags, only &lt; &gt; &amp; &quot; and numeric entities,
    every other <, > and & escaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.text: list[str] = []
        self.open: list[str] = []
        self.entities: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            raise EntityError(f'Unsupported start tag "{tag}"')
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if href.startswith("tg://user?id="):
                user_id = href.removeprefix("tg://user?id=")
                if not user_id.isdigit():
                    raise EntityError("Wrong user identifier")
                self.entities.append(("text_mention", user_id))
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            raise EntityError(f'Unmatched end tag "{tag}"')

    def handle_data(self, data: str) -> None:
        if any(ch in data for ch in "<>&"):
            raise EntityError("unescaped <, > or &")
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in _HTML_ENTITIES:
            raise EntityError(f'Unsupported HTML entity "&{name};"')
        self.text.append(_HTML_ENTITIES[name])

    def handle_charref(self, name: str) -> None:
        self.text.append(chr(int(name[1:], 16) if name[:1] in "xX" else int(name)))


def visible(text: str, parse_mode: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What the chat shows for a sent text, and its mentions; raises EntityError where Telegram answers 400."""
    entities: list[tuple[str, str]] = []
    if parse_mode == "HTML":
        parser = _TelegramHtml()
        parser.feed(text)
        parser.close()
        if parser.open or parser.rawdata:
            raise EntityError("unclosed tag or unescaped <")
        text, entities = "".join(parser.text), parser.entities
    elif parse_mode:
        raise EntityError(f"unsupported parse_mode {parse_mode!r} in this fake")
    entities.extend(("mention", f"@{m.group(1)}") for m in _USERNAME.finditer(text))
    return text, tuple(entities)


_SCOPES = {
    "default",
    "all_private_chats",
    "all_group_chats",
    "all_chat_administrators",
    "chat",
    "chat_administrators",
    "chat_member",
}


def _commands_problem(params: dict[str, str]) -> str | None:
    """Why the Bot API would refuse this setMyCommands, or None."""
    try:
        commands = json.loads(params.get("commands", ""))
        scope = json.loads(params.get("scope") or '{"type": "default"}')
    except ValueError:
        return "can't parse commands JSON object"
    if not isinstance(commands, list) or len(commands) > 100:
        return "too many commands"
    for command in commands:
        if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
            return "BOT_COMMAND_INVALID"
        if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
            return "command description is empty or too long"
    if scope.get("type") not in _SCOPES:
        return "unsupported bot command scope type"
    language = params.get("language_code", "")
    if language and not re.fullmatch(r"[a-z]{2}", language):
        return "invalid language code"
    return None


def _keyboard_problem(raw: str | None) -> str | None:
    """Why the Bot API would refuse this reply_markup (an inline keyboard), or None."""
    if raw is None:
        return None
    try:
        markup = json.loads(raw)
        rows = markup["inline_keyboard"]
    except (ValueError, KeyError, TypeError):
        return "can't parse reply keyboard markup JSON object"
    for row in rows:
        for button in row:
            if not str(button.get("text", "")).strip():
                return "BUTTON_TEXT_INVALID"
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                return "BUTTON_DATA_INVALID"
    return None


def _parse_body(content_type: str, body: bytes) -> dict[str, str]:
    if content_type.startswith("application/json"):
        data = json.loads(body or b"{}")
        return {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in data.items()}
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        fields: dict[str, str] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name and part.get_filename() is None:
                fields[str(name)] = part.get_content() if part.get_content_maintype() == "text" else ""
            elif name:
                fields[str(name)] = f"<file {part.get_filename()}>"
        return fields
    return {k: v[0] for k, v in parse_qs(body.decode()).items()}


def _handler(fake: FakeTelegram) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, each answer would wait ~40 ms for an ACK.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            return

        def _answer(self, status: int, payload: dict[str, object]) -> None:
            body = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (a simulated timeout)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if len(body) < length:
                # The client died mid-request (a killed sender): like the real Bot API, act on nothing.
                return
            match = re.fullmatch(r"/bot[^/]+/(\w+)", self.path)
            method = match.group(1) if match else ""
            params = _parse_body(self.headers.get("Content-Type", ""), body)
            chat_id = params.get("chat_id", "")
            text = params.get("text", "") or params.get("photo", "") or params.get("document", "")
            if method == "getMe":
                fake.record(method, chat_id, "", 200, params=params)
                me = {
                    "id": 999,
                    "is_bot": True,
                    "first_name": "Tổ CNS",
                    "username": "ToCNSBot",
                    "can_join_groups": True,
                    "can_read_all_group_messages": fake.reads_all_group_messages,
                    "supports_inline_queries": False,
                }
                self._answer(200, {"ok": True, "result": me})
                return
            if method == "getUpdates":
                with fake.lock:
                    batch, fake.updates[:] = list(fake.updates), []
                fake.record(method, chat_id, "", 200, params=params)
                if not batch:
                    if fake.on_empty is not None:
                        fake.on_empty()
                    time.sleep(0.2)  # a short long-poll, so a polling client does not spin
                self._answer(200, {"ok": True, "result": batch})
                return
            if method == "getFile":
                self._get_file(params)
                return
            if method == "getWebhookInfo":
                fake.record(method, chat_id, "", 200, params=params)
                url = fake.webhook_url if fake.reported_url is None else fake.reported_url
                info = {"url": url, "has_custom_certificate": False, "pending_update_count": 0}
                self._answer(200, {"ok": True, "result": info})
                return
            if method == "setWebhook" and not params.get("url", "").startswith("https://"):
                # The Bot API takes only HTTPS webhooks.
                fake.record(method, chat_id, "", 400, params=params)
                bad = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
                self._answer(400, {"ok": False, "error_code": 400, "description": bad})
                return
            if method == "setWebhook":
                secret = params.get("secret_token")
                if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
                    fake.record(method, chat_id, "", 400, params=params)
                    bad = "Bad Request: secret token contains unallowed characters"
                    self._answer(400, {"ok": False, "error_code": 400, "description": bad})
                    return
                fake.webhook_url = params.get("url", "")
            if method == "setMyCommands":
                problem = _commands_problem(params)
                if problem:
                    fake.record(method, chat_id, "", 400, params=params)
                    self._answer(400, {"ok": False, "error_code": 400, "description": f"Bad Request: {problem}"})
                    return
                with fake.lock:
                    scope = json.loads(params.get("scope") or '{"type": "default"}')["type"]
                    names = [c["command"] for c in json.loads(params["commands"])]
                    fake.menus[(scope, params.get("language_code", ""))] = names
            if method in SETUP_METHODS:
                # Start-up calls of `tocns serve` / `tocns run`: recorded, always accepted.
                fake.record(method, chat_id, json.dumps(params, ensure_ascii=False), 200, params=params)
                self._answer(200, {"ok": True, "result": True})
                return
            if method in TAP_METHODS:
                self._tap_method(method, params)
                return
            if method not in SEND_METHODS:
                self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            entities: tuple[tuple[str, str], ...] = ()
            if method == "sendMessage":
                try:
                    text, entities = visible(text, params.get("parse_mode", ""))
                    problem = _keyboard_problem(params.get("reply_markup"))
                    if problem:
                        raise EntityError(problem)
                except EntityError as exc:
                    fake.record(method, chat_id, text, 400, params=params)
                    description = f"Bad Request: can't parse entities: {exc}"
                    if "BUTTON" in str(exc) or "markup" in str(exc):
                        description = f"Bad Request: {exc}"
                    self._answer(400, {"ok": False, "error_code": 400, "description": description})
                    return
            fault = fake.fault_for(chat_id)
            if fault is None or fault.kind == "pass":
                fake.record(method, chat_id, text, 200, entities, params)
                with fake.lock:
                    message_id = len(fake.calls)
                    markup = params.get("reply_markup")
                    fake.messages[(chat_id, message_id)] = {
                        "text": text,
                        "reply_markup": json.loads(markup) if markup else None,
                    }
                chat = {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else 0, "type": "group"}
                result = {"message_id": message_id, "date": int(time.time()), "chat": chat}
                self._answer(200, {"ok": True, "result": result})
            elif fault.kind == "429":
                fake.record(method, chat_id, text, 429)
                self._answer(
                    429,
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": f"Too Many Requests: retry after {fault.retry_after}",
                        "parameters": {"retry_after": fault.retry_after},
                    },
                )
            elif fault.kind == "403":
                fake.record(method, chat_id, text, 403)
                kicked = "Forbidden: bot was kicked from the group chat"
                self._answer(403, {"ok": False, "error_code": 403, "description": kicked})
            elif fault.kind == "400":
                fake.record(method, chat_id, text, 400)
                self._answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
            elif fault.kind == "migrate":
                fake.record(method, chat_id, text, 400)
                self._answer(
                    400,
                    {
                        "ok": False,
                        "error_code": 400,
                        "description": "Bad Request: group chat was upgraded to a supergroup chat",
                        "parameters": {"migrate_to_chat_id": fault.new_chat_id},
                    },
                )
            elif fault.kind == "timeout":
                fake.record(method, chat_id, text, 0)
                time.sleep(fault.sleep)
                self._answer(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})
            else:
                fake.record(method, chat_id, text, 500)
                self._answer(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})

        def _get_file(self, params: dict[str, str]) -> None:
            """getFile: the file's path for download, or 400 for an id Telegram does not know."""
            file_id = params.get("file_id", "")
            with fake.lock:
                known = fake.files.get(file_id)
            if known is None:
                self._refuse("getFile", params, "invalid file_id")
                return
            fake.record("getFile", "", file_id, 200, params=params)
            result = {
                "file_id": file_id,
                "file_unique_id": file_id[:8],
                "file_size": len(known[1]),
                "file_path": known[0],
            }
            self._answer(200, {"ok": True, "result": result})

        def do_GET(self) -> None:
            """A file download (https://api.telegram.org/file/bot<token>/<file_path>), as the Bot API serves it."""
            match = re.fullmatch(r"/file/bot[^/]+/(.+)", self.path)
            with fake.lock:
                found = [c for p, c in fake.files.values() if match and p == match.group(1)]
                failing = fake.failing_downloads > 0
                fake.failing_downloads -= 1 if failing else 0
            fake.record("download", "", self.path, 500 if failing else 200 if found else 404)
            if failing or not found:
                self._answer(500 if failing else 404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(found[0])))
            self.end_headers()
            self.wfile.write(found[0])

        def _refuse(self, method: str, params: dict[str, str], description: str) -> None:
            fake.record(method, params.get("chat_id", ""), params.get("text", ""), 400, params=params)
            self._answer(400, {"ok": False, "error_code": 400, "description": f"Bad Request: {description}"})

        def _tap_method(self, method: str, params: dict[str, str]) -> None:
            """answerCallbackQuery (each query once, text up to 200 characters) and editMessageText (a message the
            bot sent, its text parsed as sendMessage's, refused when nothing changes)."""
            if method == "answerCallbackQuery":
                query_id = params.get("callback_query_id", "")
                if len(params.get("text", "")) > MAX_ANSWER_TEXT:
                    self._refuse(method, params, "MESSAGE_TOO_LONG")
                    return
                with fake.lock:
                    known = query_id in fake.open_queries
                    fake.open_queries.discard(query_id)
                if not known:
                    self._refuse(method, params, "query is too old and response timeout expired or query ID is invalid")
                    return
                fake.record(method, "", params.get("text", ""), 200, params=params)
                self._answer(200, {"ok": True, "result": True})
                return
            chat_id, message_id = params.get("chat_id", ""), int(params.get("message_id") or 0)
            try:
                text, entities = visible(params.get("text", ""), params.get("parse_mode", ""))
            except EntityError as exc:
                self._refuse(method, params, f"can't parse entities: {exc}")
                return
            problem = _keyboard_problem(params.get("reply_markup"))
            markup = json.loads(params["reply_markup"]) if params.get("reply_markup") else None
            with fake.lock:
                sent = fake.messages.get((chat_id, message_id))
                unchanged = sent is not None and sent["text"] == text and sent["reply_markup"] == markup
                if sent is not None and not problem and not unchanged:
                    sent.update(text=text, reply_markup=markup)
            if problem or sent is None or unchanged:
                reason = problem or ("message to edit not found" if sent is None else "message is not modified")
                self._refuse(method, params, reason)
                return
            fake.record(method, chat_id, text, 200, entities, params)
            result = {"message_id": message_id, "date": 1795000000, "chat": {"id": int(chat_id), "type": "group"}}
            self._answer(200, {"ok": True, "result": {**result, "text": text}})

    return Handler


class TelegramServer(LocalServer):
    """Runs a FakeTelegram on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, fake: FakeTelegram | None = None) -> None:
        self.fake = fake or FakeTelegram()
        super().__init__(_handler(self.fake))
