"""GapoWork chatbot: webhook events in as neutral messages, outbox messages out through one REST call.

Facts and their confidence come from ../shared/platforms/gapowork.md (§ numbers below). The platform signs nothing
(§3): the webhook URL ends in a long random secret (GAPOWORK_WEBHOOK_SECRET, compared in constant time by the web
intake) and every event must name our bot in `to_bot_id`. Ids reach 19 digits (§2): they stay Python ints or digit
strings, a float is refused. Where the sources disagree, both readings are accepted and the one met is logged once.

Chat ids: a group conversation is its `thread_id` (digits); a person's private chat is `u:<user_id>`, sent with
`receiver_id` (so the bot can write to someone whose 1:1 thread it never saw); `c:<collab_id>` posts into a group
by its collab id (an operator's binding).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tocns.channels.base import SendResult, SendStatus, SetupError, UpdateIgnored, UpdateRefused
from tocns.config import Settings
from tocns.core.clock import utcnow
from tocns.core.files import save_attachment
from tocns.core.mentions import PersonRef, plain_name, segments
from tocns.core.messages import (
    MAX_BUTTONS,
    Attachment,
    Button,
    ChatEvent,
    ChatEventKind,
    ChatType,
    IncomingMessage,
    Mention,
)
from tocns.core.parsing import parse_command
from tocns.core.router import Router
from tocns.core.signed_links import can_sign, sign_url
from tocns.core.text import fold, split_chunks
from tocns.core.updates import Checked

log = logging.getLogger(__name__)

PLATFORM = "gapowork"
SEND_PATH = "/3rd-bot/v1.0/3rd/messages"
PROFILE_URL = "https://www.gapowork.vn/profile/{user_id}"
# No text limit is published (§8.4): 2,000 characters of what people read is an assumption, kept on purpose low.
MAX_TEXT = 2000
MAX_ID_DIGITS = 19
# A quick-reply title longer than this is cut (no limit is published; buttons on a phone are short).
MAX_TITLE = 40
# How many words a bot's name in a mention may have before the command starts.
_MAX_NAME_WORDS = 10
# Events that may mean the bot left a conversation. None is documented (§3): any of them naming our bot is taken
# as "bot removed", and logged, so the real name can be confirmed on a live workspace.
REMOVAL_EVENTS = frozenset({"bot_removed", "bot_left", "thread_removed", "member_removed", "member_left"})
_REMOVED_ID_FIELDS = ("user_id", "member_id", "removed_user_id", "target_id", "bot_id")
_TOP_IDS = ("thread_id", "from_user_id", "to_bot_id", "to_id", "from_id", "parent_message_id", "message_id")
TOKEN_HINT = "kiểm tra GAPOWORK_BOT_TOKEN (khoá bot, gửi ở header x-gapo-api-key) và GAPOWORK_BOT_ID"
_CHAT_GONE_WORDS = re.compile(r"thread|member|conversation|collab|not\s+(?:in|joined)|removed|kick", re.IGNORECASE)


# ---------------------------------------------------------------- ids


def exact_id(value: object, field: str) -> str | None:
    """A GapoWork id as a digit string (ints and digit strings of up to 19 digits); None when absent.

    A float is refused (UpdateRefused): a 19-digit id that went through a float has lost its last digits, and a
    wrong id must not silently name another chat or person.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise UpdateRefused(f"GapoWork id {field} is a boolean")
    if isinstance(value, float):
        raise UpdateRefused(f"GapoWork id {field} is a float (ids must stay exact)")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise UpdateRefused(f"GapoWork id {field} is not a number")
    if not text.isascii() or not text.isdigit() or len(text) > MAX_ID_DIGITS or int(text) <= 0:
        raise UpdateRefused(f"GapoWork id {field} is not a positive integer of at most {MAX_ID_DIGITS} digits")
    return str(int(text))


def _nfc(value: Any) -> Any:
    """Every string of a decoded JSON value (keys too) in NFC: GapoWork may send NFD (§3)."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {_nfc(k): _nfc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nfc(v) for v in value]
    return value


def _message_ids(
    body: dict[str, Any], message: dict[str, Any], thread: dict[str, Any], user: dict[str, Any]
) -> tuple[str, str, str | None]:
    """A message event's thread, sender and message ids, wherever this variant of the event puts them."""
    thread_id = exact_id(thread.get("id"), "message.thread.id") or exact_id(body.get("thread_id"), "thread_id")
    sender = (
        exact_id(body.get("from_user_id"), "from_user_id")
        or exact_id(user.get("id"), "message.user.id")
        or exact_id(body.get("from_id"), "from_id")
    )
    message_id = exact_id(message.get("id"), "message.id") or exact_id(body.get("message_id"), "message_id")
    if thread_id is None or sender is None:
        raise ValueError("not a GapoWork message event: thread or sender missing")
    return thread_id, sender, message_id


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def private_chat(user_id: str) -> str:
    """The chat id of a person's private chat with the bot (sent with `receiver_id`)."""
    return f"u:{user_id}"


def target_of(chat_id: str) -> dict[str, int] | None:
    """The one recipient key a send carries for a chat id (§2: exactly one of them); None when it is not ours."""
    kind, sep, rest = chat_id.partition(":")
    if not sep:
        key, digits = "thread_id", chat_id
    else:
        key, digits = {"u": "receiver_id", "c": "collab_id"}.get(kind, ""), rest
    if not key or not digits.isascii() or not digits.isdigit() or len(digits) > MAX_ID_DIGITS:
        return None
    return {key: int(digits)}


# ---------------------------------------------------------------- inbound


def _span(text: str, mention: dict[str, Any]) -> tuple[int, int] | None:
    """The (start, end) a mention covers in `text`, when its offset and length make sense there (code points, as
    the working clients count them); None otherwise (a length of 0 is seen in the wild, §2)."""
    offset, length = mention.get("offset"), mention.get("length")
    if not isinstance(offset, int) or not isinstance(length, int) or isinstance(offset, bool) or length <= 0:
        return None
    if offset < 0 or offset + length > len(text):
        return None
    return offset, offset + length


class GapoWorkChannel:
    """GapoWork webhook events in, checked and translated once; there is no polling (events only go to a webhook)."""

    platform = PLATFORM
    webhook_path = "/webhook/gapowork"
    # GapoWork echoes no secret header: the secret is the last segment of the webhook URL (see tocns.web.intake).
    secret_header = ""
    secret_in_path = True

    def __init__(self, settings: Settings, router: Router) -> None:
        self.settings = settings
        self.router = router
        self._seen_variants: set[str] = set()

    @property
    def webhook_secret(self) -> str:
        """The secret that ends the webhook URL."""
        return self.settings.gapowork_webhook_secret

    @property
    def bot_id(self) -> str:
        """Our bot's id as digits (GAPOWORK_BOT_ID)."""
        return self.settings.gapowork_bot_id.strip()

    def _variant(self, name: str) -> None:
        if name not in self._seen_variants:
            self._seen_variants.add(name)
            log.info("gapowork: first event of the %s form", name)

    def check(self, body: object) -> Checked:
        """Validate an event and translate it; UpdateRefused for a foreign bot or an inexact id, UpdateIgnored for
        what is nothing for the bot, ValueError for what is not a GapoWork event."""
        if not isinstance(body, dict):
            raise ValueError("not a GapoWork event: not an object")
        return self._check(_nfc(body))

    def _check(self, body: dict[str, Any]) -> Checked:
        # Every id of the event is checked, wherever it lies, before any is used: an inexact one refuses the event.
        for name in _TOP_IDS:
            exact_id(body.get(name), name)
        message = _obj(body.get("message"))
        for name, value in (
            ("message.id", message.get("id")),
            ("message.thread.id", _obj(message.get("thread")).get("id")),
            ("message.user.id", _obj(message.get("user")).get("id")),
        ):
            exact_id(value, name)
        # `to_bot_id` in the documented events, `to_id` in sub-thread messages (§3).
        to_bot = exact_id(body.get("to_bot_id"), "to_bot_id") or exact_id(body.get("to_id"), "to_id")
        if to_bot is None or not self.bot_id or to_bot != self.bot_id:
            raise UpdateRefused("GapoWork event not addressed to this bot (to_bot_id)", status=403)
        event = body.get("event")
        if not isinstance(event, str):
            raise ValueError("not a GapoWork event: event missing")
        event_id = exact_or_text(body.get("id"))
        if event == "message_created":
            return self._message(body, event_id)
        if event == "thread_created":
            return self._thread_created(body, event_id)
        if event in REMOVAL_EVENTS:
            return self._removed(body, event, event_id)
        raise UpdateIgnored(f"GapoWork event {event[:40]!r} is not handled")

    def _key(self, event_id: str | None, fallback: list[object]) -> str:
        if event_id:
            return f"evt:{event_id}"
        digest = hashlib.sha256(json.dumps(fallback, default=str).encode()).hexdigest()[:40]
        return f"h:{digest}"

    def _thread_created(self, body: dict[str, Any], event_id: str | None) -> Checked:
        thread = exact_id(body.get("thread_id"), "thread_id")
        user = exact_id(body.get("from_user_id"), "from_user_id")
        kind = _obj(body.get("thread")).get("type") or body.get("thread_type")
        if thread is not None and isinstance(kind, str) and kind != "direct":
            # Not documented for groups (§3): should it come when the chat owner adds the bot, greet the group.
            self._variant("thread_created (group)")
            event = ChatEvent(ChatEventKind.BOT_ADDED, PLATFORM, thread)
            return Checked(body=body, key=self._key(event_id, ["created", thread]), chat=thread, event=event)
        # A person opened a 1:1 chat (§1): their first message follows; nothing to keep until then.
        raise UpdateIgnored(f"GapoWork 1:1 thread {thread} opened by user {user}")

    def _removed(self, body: dict[str, Any], event: str, event_id: str | None) -> Checked:
        message = _obj(body.get("message"))
        thread = exact_id(body.get("thread_id"), "thread_id") or exact_id(
            _obj(message.get("thread")).get("id"), "message.thread.id"
        )
        removed = [exact_id(body.get(f), f) for f in _REMOVED_ID_FIELDS if body.get(f) is not None]
        if thread is None or (event.startswith("member_") and self.bot_id not in removed):
            raise UpdateIgnored(f"GapoWork {event} event not about this bot")
        log.warning("gapowork: %s event for thread %s (undocumented): the bot is taken as removed", event, thread)
        chat_event = ChatEvent(ChatEventKind.BOT_REMOVED, PLATFORM, thread)
        return Checked(body=body, key=self._key(event_id, [event, thread]), chat=thread, event=chat_event)

    def _message(self, body: dict[str, Any], event_id: str | None) -> Checked:
        message = body.get("message")
        if not isinstance(message, dict):
            raise ValueError("not a GapoWork message event: message missing")
        thread, user = _obj(message.get("thread")), _obj(message.get("user"))
        thread_id, sender, message_id = _message_ids(body, message, thread, user)
        parent = exact_id(body.get("parent_message_id"), "parent_message_id")
        direct = thread.get("type") == "direct"
        if not isinstance(thread.get("type"), str):
            self._variant("message without thread.type (taken as a group)")
        chat = private_chat(sender) if direct else thread_id
        key = self._key(event_id, ["msg", thread_id, message_id])
        if sender == self.bot_id:
            return Checked(body=body, key=key, chat=chat, event=None)  # our own message coming back
        name = user.get("name")
        display = name.strip() if isinstance(name, str) and name.strip() else f"Người dùng GapoWork {sender[-4:]}"
        text, addressed, found = self._content(message)
        incoming = IncomingMessage(
            platform=PLATFORM,
            chat_id=chat,
            user_id=sender,
            display_name=display,
            text=text,
            message_id=message_id,
            chat_type=ChatType.PRIVATE if direct else ChatType.GROUP,
            chat_title=thread.get("name") if isinstance(thread.get("name"), str) else None,
            mentions=found,
            addressed_to_bot=addressed,
            thread_id=parent,
        )
        # GapoWork may deliver every group message (§3, open question 1): only commands, mentions of the bot and
        # button taps are the bot's; the rest is neither processed nor kept.
        if not direct and self.router.parse(incoming) is None:
            raise UpdateIgnored("GapoWork group message that is no command for the bot")
        return Checked(body=body, key=key, chat=chat, event=incoming)

    def _content(self, message: dict[str, Any]) -> tuple[str, bool, list[Mention]]:
        """A message's command text, whether it addressed the bot, and the people it mentions (a tap, or text)."""
        kind = message.get("type") or "text"
        mentions = [_obj(m) for m in _obj(message.get("metadata")).get("mentions") or [] if isinstance(m, dict)]
        for item in mentions:
            exact_id(item.get("target"), "mention target")
        if kind in ("quick_reply", "menu"):
            return self._button_command(message.get("payload"), kind), True, []
        if kind != "text":
            raise UpdateIgnored(f"GapoWork message of type {str(kind)[:20]!r} is not handled")
        raw = message.get("text")
        if not isinstance(raw, str) or not raw.strip():
            raise UpdateIgnored("GapoWork message without text")
        return self._text(raw, mentions)

    def _button_command(self, payload: object, kind: str) -> str:
        """The command a menu tap or quick reply carries; UpdateIgnored when it names no command of ours."""
        if not isinstance(payload, str) or not payload.strip():
            raise UpdateIgnored(f"GapoWork {kind} without a payload")
        command = payload.strip()
        parsed = parse_command(command, addressed=True, commands=self.router.registry.names())
        if parsed is None or self.router.registry.lookup(parsed.name) is None or not command.startswith("/"):
            raise UpdateIgnored(f"GapoWork {kind} payload {command[:40]!r} is not a command")
        return command

    def _text(self, raw: str, mentions: list[dict[str, Any]]) -> tuple[str, bool, list[Mention]]:
        """The text with the bot's own mention removed, whether it mentioned the bot, the other people mentioned."""
        addressed = False
        found: list[Mention] = []
        cut: tuple[int, int] | None = None
        for item in mentions:
            target = exact_id(item.get("target"), "mention target")
            span = _span(raw, item)
            if target == self.bot_id:
                addressed = True
                cut = span if span is not None and cut is None else cut
            elif target is not None and span is not None:
                shown = raw[span[0] : span[1]]
                found.append(Mention(user_id=target, display_name=shown.lstrip("@").strip(), text=shown))
        if cut is not None:
            text = f"{raw[: cut[0]]} {raw[cut[1] :]}".strip()
        elif addressed and raw.lstrip().startswith("@"):
            text = self._after_name(raw.lstrip())
        else:
            text = raw
        return text, addressed, found

    def _after_name(self, text: str) -> str:
        """`@<the bot's name> ghi ...` whose mention span is unknown: the text from the first word naming a command
        (the bot's name on GapoWork is set in its UI; the router only knows the configured names)."""
        names = self.router.registry.names()
        words = list(re.finditer(r"\S+", text))
        for word in words[1:_MAX_NAME_WORDS]:
            if fold(word.group()).lstrip("/").rstrip(":,.;!?") in names:
                return text[word.start() :]
        return text

    async def refresh(self, checked: Checked) -> Checked:
        """Nothing to ask GapoWork again: the update as checked."""
        return checked

    async def start(self) -> None:
        """Check the configuration (GapoWork has no getMe to ask); raises SetupError with the cause."""
        problem = setup_problem(self.settings)
        if problem:
            raise SetupError(problem)

    async def register(self, public_base_url: str) -> str:
        """The webhook URL to enter in GapoWork's bot settings (there is no API to set it); HTTPS or SetupError."""
        url = webhook_url(self.settings, public_base_url)
        if not url.startswith("https://"):
            raise SetupError(
                f"GapoWork cần webhook HTTPS, còn PUBLIC_BASE_URL là {public_base_url}: đặt PUBLIC_BASE_URL=https://..."
            )
        log.info("gapowork: enter this webhook URL in the bot's settings on GapoWork: %s", url)
        return url

    async def set_menu(self) -> None:
        """GapoWork's menu is set in its UI: `tocns gapowork menu` prints what to paste."""

    async def poll(self, process: Any, stop: asyncio.Event | None = None) -> None:
        """GapoWork only delivers events to a webhook: nothing to poll (run `tocns serve` behind HTTPS)."""
        log.warning("gapowork: no polling exists; run `tocns serve` behind HTTPS to receive messages")

    async def close(self) -> None:
        """Nothing to release."""


def exact_or_text(value: object) -> str | None:
    """An event id: digits kept exact, another string kept as it is (capped); a float refused."""
    if isinstance(value, str) and value.strip() and not value.strip().isdigit():
        return value.strip()[:100]
    return exact_id(value, "id")


def setup_problem(settings: Settings) -> str | None:
    """Why the GapoWork channel cannot run as configured, in one Vietnamese line; None when it can."""
    missing = [
        name
        for name in ("gapowork_bot_id", "gapowork_bot_token", "gapowork_webhook_secret")
        if not getattr(settings, name)
    ]
    if missing:
        return f"GapoWork chưa đủ cấu hình: thiếu {', '.join(n.upper() for n in missing)} (xem docs/gapowork.md)."
    return None


def webhook_url(settings: Settings, public_base_url: str | None = None) -> str:
    """The webhook URL GapoWork must call: PUBLIC_BASE_URL, the route, then the secret."""
    base = (public_base_url or settings.public_base_url).rstrip("/")
    return f"{base}{GapoWorkChannel.webhook_path}/{settings.gapowork_webhook_secret}"


# ---------------------------------------------------------------- outbound

_MD_SPECIAL = re.compile(r"([\\`*_\[\]])")


def _md_escape(text: str) -> str:
    """User text inert in GapoWork's Markdown (it renders *italic* and links, §2)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _gapo_person(ref: PersonRef) -> bool:
    return ref.user_id.isascii() and ref.user_id.isdigit() and len(ref.user_id) <= MAX_ID_DIGITS


def render_body(text: str) -> dict[str, Any]:
    """One chunk of marked outbox text as a `text` body: plain when it names nobody on GapoWork; otherwise both
    documented mention forms (§2, [X]): Markdown profile links and `metadata.mentions` offsets over the plain form."""
    parts = list(segments(text))
    if not any(isinstance(p, PersonRef) and _gapo_person(p) for p in parts):
        plain = "".join(plain_name(p) if isinstance(p, PersonRef) else p for p in parts)
        return {"type": "text", "text": plain, "is_markdown_text": False}
    marked: list[str] = []
    shown: list[str] = []
    mentions: list[dict[str, int]] = []
    for part in parts:
        if isinstance(part, PersonRef) and _gapo_person(part):
            label = f"@{part.name}"
            mentions.append({"target": int(part.user_id), "offset": len("".join(shown)), "length": len(label)})
            marked.append(f"[{_md_escape(label)}]({PROFILE_URL.format(user_id=part.user_id)})")
            shown.append(label)
        else:
            piece = plain_name(part) if isinstance(part, PersonRef) else part
            marked.append(_md_escape(piece))
            shown.append(piece)
    return {
        "type": "text",
        "text": "".join(marked),
        "tmp_text": "".join(shown),
        "is_markdown_text": True,
        "metadata": {"mentions": mentions},
    }


def with_buttons(body: dict[str, Any], buttons: list[Button]) -> dict[str, Any]:
    """A text body turned into `quick_replies` carrying the buttons (§2), each sending its command as payload."""
    options = [{"title": b.label[:MAX_TITLE], "payload": b.command} for b in buttons[:MAX_BUTTONS]]
    metadata = {**_obj(body.get("metadata")), "options": options}
    return {**body, "type": "quick_replies", "metadata": metadata}


def classify(status: int, text: str, retry_after: str | None = None) -> SendResult:
    """What a GapoWork answer means for the outbox. No error body or limit is published (§2, §8.4), so by status:
    401 and 403 stop the channel (the key or bot id was refused: an operator must act, nothing is failed) unless
    the answer speaks of the conversation; 404, or a 4xx about the conversation, means the bot is no longer in that
    chat (its binding is dropped, as for a removed bot); 429 and 5xx go back to the outbox with a backoff."""
    error = f"HTTP {status}: {text[:200]}"
    if status < 300:
        return SendResult(SendStatus.OK)
    if status == 429:
        wait = float(retry_after) if retry_after and retry_after.strip().isdigit() else None
        return SendResult(SendStatus.RATE_LIMITED, retry_after=wait, error=error)
    if status >= 500:
        return SendResult(SendStatus.TRANSIENT, error=error)
    about_chat = bool(_CHAT_GONE_WORDS.search(text))
    if status == 404 or (status in (400, 403) and about_chat):
        return SendResult(SendStatus.PERMANENT, error=f"bot không còn trong cuộc trò chuyện ({error})", chat_gone=True)
    if status in (401, 403):
        return SendResult(SendStatus.UNAUTHORIZED, error=f"GapoWork từ chối khoá bot ({error}): {TOKEN_HINT}")
    return SendResult(SendStatus.PERMANENT, error=error)


class GapoWorkTransport:
    """Sends one outbox message to a GapoWork chat; never raises for platform or network errors."""

    platform = PLATFORM
    max_text_length = MAX_TEXT
    supports_buttons = True

    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = utcnow,
        files_served: bool = True,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(15.0))
        self.url = f"{settings.gapowork_api_base_url.rstrip('/')}{SEND_PATH}"
        # Whether something answers GET /files at PUBLIC_BASE_URL: documents go as links there.
        self.files_served = files_served

    def links_possible(self) -> bool:
        """Whether files can go as signed HTTPS links (a signing key, a public HTTPS PUBLIC_BASE_URL, /files)."""
        return can_sign(self.settings) and self.settings.public_base_url.startswith("https://") and self.files_served

    def _link_line(self, attachment: Attachment) -> str:
        root = Path(self.settings.files_dir).resolve()
        known = Path(attachment.path).resolve() if attachment.path else None
        path = known if known is not None and known.is_file() and known.is_relative_to(root) else None
        path = path or save_attachment(self.settings.files_dir, attachment)
        days = self.settings.signed_link_days
        link = sign_url(self.settings, path, self.clock())
        return f"📎 {attachment.filename} (mở hoặc tải về trong {days} ngày): {link}"

    def _file_lines(self, chat_id: str, attachments: list[Attachment]) -> list[str]:
        """No bot upload path is documented (§2): each file becomes a signed link, or one clear line without one."""
        if not attachments:
            return []
        if self.links_possible():
            return [self._link_line(a) for a in attachments]
        log.warning(
            "gapowork: %d file(s) for %s sent as a note: links need LINK_SIGNING_SECRET and an https PUBLIC_BASE_URL",
            len(attachments),
            chat_id,
        )
        names = ", ".join(a.filename for a in attachments)
        return [
            f"📎 {names}: chưa gửi được qua GapoWork (máy chủ chưa có địa chỉ công khai HTTPS để tải tệp). "
            "Cần tệp, xin cán bộ phụ trách."
        ]

    async def _post(self, target: dict[str, int], body: dict[str, Any], parent: str | None) -> SendResult:
        payload: dict[str, Any] = {"bot_id": int(self.settings.gapowork_bot_id), **target, "body": body}
        if parent and parent.isdigit():
            payload["message_id"] = int(parent)  # a sub-thread (§2)
        headers = {"x-gapo-api-key": self.settings.gapowork_bot_token, "Content-Type": "application/json"}
        try:
            content = json.dumps(payload, ensure_ascii=False).encode()
            response = await self.client.post(self.url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            return SendResult(SendStatus.TRANSIENT, error=f"{type(exc).__name__}: {exc}"[:300])
        return classify(response.status_code, response.text, response.headers.get("retry-after"))

    async def send(
        self,
        chat_id: str,
        text: str,
        attachments: list[Attachment],
        skip: int = 0,
        thread_id: str | None = None,
        buttons: list[Button] | None = None,
    ) -> SendResult:
        """Send text (chunks of 2,000 characters, people as real mentions, files as links at the end), the buttons
        under the last chunk, from piece `skip` on."""
        target = target_of(chat_id)
        if target is None:
            return SendResult(SendStatus.PERMANENT, error=f"mã cuộc trò chuyện GapoWork không hợp lệ: {chat_id[:40]}")
        lines = self._file_lines(chat_id, attachments)
        if lines:
            joined = "\n".join(lines)
            text = f"{text}\n\n{joined}" if text else joined
        chunks = split_chunks(text, MAX_TEXT) if text else []
        done = min(skip, len(chunks))
        for index in range(done, len(chunks)):
            body = render_body(chunks[index])
            if buttons and index == len(chunks) - 1:
                body = with_buttons(body, buttons)
            result = await self._post(target, body, thread_id)
            if result.status != SendStatus.OK:
                return replace(result, parts_sent=done)
            done += 1
        return SendResult(SendStatus.OK, parts_sent=done)

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()
