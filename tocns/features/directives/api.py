"""The directive API: POST /api/v1/directives sends a directive like /chidao; GET returns its status."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Body, Header, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tocns.core.context import UserError
from tocns.core.parsing import MAX_ID
from tocns.core.permissions import unit_authority
from tocns.core.roles import Role
from tocns.core.text import storable
from tocns.features.apitokens.auth import require_token
from tocns.features.directives import service, store
from tocns.features.org.models import unit_label

if TYPE_CHECKING:
    from tocns.app import BotApp  # the web app's state carries it; imported for types only (no cycle)

PREFIX = "/api/v1/directives"
MAX_KEY_CHARS = 200
router = APIRouter(prefix=PREFIX, tags=["directives"])

AUTH_DOC = (
    "Bearer <API token> from `tocns apitoken create` (the token's unit bounds the scope, and the token acts with "
    "the role of that unit's authority: province → Cán bộ Sở, commune → Lãnh đạo xã/phường, team → Tổ trưởng)"
)
# The chat commands whose roles each route checks: sending is /chidao (department staff), status is /tinhtrang.
SEND_COMMAND, STATUS_COMMAND = "chidao", "tinhtrang"


def _storable_text(value: str | None) -> str | None:
    # PostgreSQL refuses NUL and lone surrogates: refuse them here with a 422 rather than fail on insert.
    if value is not None and storable(value) != value:
        raise PydanticCustomError("unstorable_text", "chứa ký tự NUL hoặc ký tự đại diện (surrogate) lẻ")
    return value


class DirectiveIn(BaseModel):
    """A directive to send, as /chidao takes it."""

    text: str | None = Field(None, description="Nội dung chỉ đạo (bắt buộc, tối đa 4.000 ký tự).")
    scope: str | None = Field(
        None,
        description=(
            "Phạm vi như /chidao: «toàn tỉnh» (mặc định: mọi xã thuộc đơn vị của token), danh sách mã hoặc tên "
            "xã cách nhau bởi dấu phẩy, hoặc «đơn vị <mã>»."
        ),
    )

    _text_storable = field_validator("text", "scope")(_storable_text)


class DirectiveCreated(BaseModel):
    """The receipt of a sent directive."""

    id: int
    scope: str
    targets: int = Field(description="Số nơi sẽ nhận chỉ đạo: nhóm và tin nhắn riêng")
    people: int = Field(
        0, description="Trong đó: số người nhận qua tin nhắn riêng (xã chưa có nhóm trên nền tảng của họ)"
    )
    communes: int = Field(description="Số xã/phường có ít nhất một nơi nhận")
    unreached_communes: list[str] = Field(
        description="Mã các xã trong phạm vi chưa có nhóm kết nối, cũng chưa ai nhắn riêng với bot"
    )
    status_url: str


class AckOut(BaseModel):
    """Who acknowledged first in a commune, and when."""

    by: str
    at: datetime


class CommuneOut(BaseModel):
    """Delivery and acknowledgement in one commune."""

    code: str
    name: str
    groups: int
    delivered: int
    pending: int
    failed: int
    failures: list[str] = Field(description="Lý do lỗi của từng nhóm không nhận được")
    acknowledged: AckOut | None
    people: int = Field(0, description="Số người nhận qua tin nhắn riêng")
    people_delivered: int = Field(0, description="Số người đã nhận tin riêng")
    people_acknowledged: int = Field(0, description="Số người nhận tin riêng đã xác nhận")


class UnitOut(BaseModel):
    """A unit by code and name."""

    code: str
    name: str


class DirectiveStatusOut(BaseModel):
    """Status of a directive: groups delivered, failed and pending; acknowledgements per commune."""

    id: int
    text: str
    scope: str
    created_at: datetime
    delivered: int
    pending: int
    failed: int
    acknowledged_communes: int
    communes: list[CommuneOut]
    not_acknowledged: list[UnitOut]


POST_EXAMPLES: dict[str, Any] = {
    "toàn tỉnh": {
        "summary": "Mọi xã thuộc đơn vị của token",
        "value": {"text": "Rà soát số hộ đã cài VNeID trước 30/11/2026"},
    },
    "một số xã": {
        "summary": "Danh sách mã hoặc tên xã (có dấu hoặc không dấu)",
        "value": {"text": "Họp giao ban lúc 14:00 thứ Sáu", "scope": "00070, Tân Lập"},
    },
    "đơn vị": {
        "summary": "Mọi xã thuộc một đơn vị",
        "value": {"text": "Báo cáo tuần trước 17:00 thứ Sáu", "scope": "đơn vị 001"},
    },
}
CREATED_EXAMPLE = {
    "id": 12,
    "scope": "toàn tỉnh",
    "targets": 214,
    "people": 12,
    "communes": 97,
    "unreached_communes": ["00073"],
    "status_url": "/api/v1/directives/12",
}
STATUS_EXAMPLE = {
    "id": 12,
    "text": "Rà soát số hộ đã cài VNeID trước 30/11/2026",
    "scope": "toàn tỉnh",
    "created_at": "2026-11-23T02:00:00Z",
    "delivered": 2,
    "pending": 0,
    "failed": 1,
    "acknowledged_communes": 1,
    "communes": [
        {
            "code": "00070",
            "name": "Xã Tân Lập",
            "groups": 2,
            "delivered": 2,
            "pending": 0,
            "failed": 0,
            "failures": [],
            "acknowledged": {"by": "Hùng", "at": "2026-11-23T02:12:00Z"},
        },
        {
            "code": "00071",
            "name": "Xã Hòa Bình",
            "groups": 1,
            "delivered": 0,
            "pending": 0,
            "failed": 1,
            "failures": ["bị chặn hoặc bị xoá khỏi nhóm"],
            "acknowledged": None,
        },
    ],
    "not_acknowledged": [{"code": "00071", "name": "Xã Hòa Bình"}],
}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Thiếu, sai hoặc đã thu hồi API token"},
    403: {"description": "Ngoài đơn vị của token, hoặc vai trò của token không được làm việc này (như trong chat)"},
}


def _receipt(sent: service.Sent) -> dict[str, Any]:
    directive_id = sent.directive.id or 0
    return {
        "id": directive_id,
        "scope": sent.scope.label,
        "targets": len(sent.targets),
        "people": sent.people,
        "communes": len(sent.reached),
        "unreached_communes": [c.code for c in sent.unreached],
        "status_url": f"{PREFIX}/{directive_id}",
    }


async def _replay(bot: BotApp, authorization: str, key: str, request_hash: str) -> Response | None:
    """The response of an earlier POST with this key, or None when there was none."""
    async with bot.db.session() as session:
        token, _unit = await require_token(session, authorization, bot.clock(), bot.registry, SEND_COMMAND)
        earlier = await store.find_api_request(session, token.id or 0, key)
        if earlier is None:
            return None
        if earlier.request_hash != request_hash:
            raise HTTPException(
                422, f"Idempotency-Key «{key}» đã dùng cho một chỉ đạo khác (số {earlier.directive_id}). Dùng khóa mới."
            )
        body = json.loads(earlier.response)
    return JSONResponse(body, status_code=201, headers={"Idempotent-Replayed": "true"})


@router.post(
    "",
    status_code=201,
    response_model=DirectiveCreated,
    responses={
        201: {"content": {"application/json": {"example": CREATED_EXAMPLE}}},
        **ERRORS,
        422: {"description": "Thiếu nội dung, quá 4.000 ký tự, phạm vi không có, hoặc không nhóm nào nhận"},
    },
)
async def create_directive(
    request: Request,
    body: DirectiveIn = Body(..., openapi_examples=POST_EXAMPLES),
    authorization: str = Header("", description=AUTH_DOC),
    idempotency_key: str = Header(
        "",
        alias="Idempotency-Key",
        description="Khóa tùy chọn: gửi lại cùng khóa trả về cùng chỉ đạo, không gửi lần hai",
    ),
) -> Response:
    """Send a directive to every bound group of the scope (within the token's unit), like /chidao."""
    bot: BotApp = request.app.state.bot
    key = idempotency_key.strip()
    if len(key) > MAX_KEY_CHARS:
        raise HTTPException(422, f"Idempotency-Key dài tối đa {MAX_KEY_CHARS} ký tự.")
    text = (body.text or "").strip()
    request_hash = hashlib.sha256(json.dumps([text, (body.scope or "").strip()]).encode()).hexdigest()
    if key and (replayed := await _replay(bot, authorization, key, request_hash)) is not None:
        return replayed
    now = bot.clock()
    try:
        async with bot.db.session() as session:
            token, unit = await require_token(session, authorization, now, bot.registry, SEND_COMMAND)
            if not text:
                raise HTTPException(422, "Thiếu nội dung chỉ đạo (trường «text»). Chưa gửi gì.")
            try:
                scope = await service.parse_scope(session, body.scope or "", within=unit)
                assert scope is not None
                sent = await service.send_directive(
                    session,
                    text=text,
                    scope=scope,
                    sender=token.label or unit.name,
                    person=None,
                    now=now,
                    tz=bot.settings.tz,
                )
            except service.ScopeForbidden as exc:
                raise HTTPException(403, exc.message) from exc
            except UserError as exc:
                raise HTTPException(422, exc.message) from exc
            receipt = _receipt(sent)
            if key:
                await store.save_api_request(
                    session, token.id or 0, key, request_hash, sent.directive.id or 0, json.dumps(receipt), now
                )
    except IntegrityError:
        # A concurrent POST with the same key committed first: everything here was rolled back; answer with it.
        if key and (replayed := await _replay(bot, authorization, key, request_hash)) is not None:
            return replayed
        raise
    return JSONResponse(receipt, status_code=201)


@router.get(
    "/{directive_id}",
    response_model=DirectiveStatusOut,
    responses={
        200: {"content": {"application/json": {"example": STATUS_EXAMPLE}}},
        **ERRORS,
        404: {"description": "Không có chỉ đạo số này"},
    },
)
async def get_directive_status(
    request: Request, directive_id: int, authorization: str = Header("", description=AUTH_DOC)
) -> dict[str, Any]:
    """Delivered, failed (with reason) and acknowledged per commune, and the communes not acknowledged."""
    bot: BotApp = request.app.state.bot
    async with bot.db.session() as session:
        _token_row, unit = await require_token(session, authorization, bot.clock(), bot.registry, STATUS_COMMAND)
        # Ids are 32-bit in the database: a larger number names nothing (and must not reach the query).
        directive = await store.get_directive(session, directive_id) if 1 <= directive_id <= MAX_ID else None
        if directive is None:
            raise HTTPException(404, f"Không có chỉ đạo số {directive_id}.")
        status = await service.directive_status(session, directive)
        if not status.within(unit):
            # As /tinhtrang: a commune's authority sees its own part of a wider directive; staff see whole ones.
            narrowed = status.only(unit) if unit_authority(unit.level) != Role.STAFF else None
            if narrowed is None or not narrowed.communes:
                raise HTTPException(403, f"Token này chỉ xem được chỉ đạo gửi trong {unit_label(unit)}.")
            status = narrowed
        communes = [
            {
                "code": c.commune.code if c.commune else "",
                "name": c.commune.name if c.commune else c.label,
                "groups": c.groups,
                "delivered": c.delivered,
                "pending": c.pending,
                "failed": len(c.failures),
                "failures": c.failures,
                "acknowledged": {"by": c.ack.person.display_name, "at": c.ack.ack.acked_at} if c.ack else None,
                "people": len(c.people),
                "people_delivered": c.people_delivered,
                "people_acknowledged": len(c.people_acked),
            }
            for c in status.communes
        ]
        return {
            "id": directive.id,
            "text": directive.text,
            "scope": directive.scope_label,
            "created_at": directive.created_at,
            "delivered": status.count("delivered"),
            "pending": status.count("pending"),
            "failed": status.count("failed"),
            "acknowledged_communes": len(status.communes) - len(status.not_acknowledged),
            "communes": communes,
            "not_acknowledged": [{"code": c["code"], "name": c["name"]} for c in communes if c["acknowledged"] is None],
        }


async def validation_error(request: Request, exc: Exception) -> Response:
    """Vietnamese 422 for a malformed directive request; FastAPI's usual answer elsewhere."""
    assert isinstance(exc, RequestValidationError)
    if not request.url.path.startswith(PREFIX):
        return await request_validation_exception_handler(request, exc)
    errors = [
        # Never echo the input back: it may be NaN, a lone surrogate or megabytes, none of which JSON can carry.
        {"loc": list(e.get("loc", ())), "type": e.get("type", ""), "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {_PROBLEMS.get(e['type'], e['type'])}"
        for e in errors
    )
    if request.url.path.startswith(f"{PREFIX}/"):
        detail = f"Số chỉ đạo không hợp lệ: cần một số nguyên dương, ví dụ {PREFIX}/12. Chi tiết: {problems}."
    else:
        detail = (
            'Yêu cầu không hợp lệ: cần JSON dạng {"text": "<nội dung>", "scope": "<phạm vi, tùy chọn>"} '
            f"với text và scope là chuỗi. Chi tiết: {problems}."
        )
    return JSONResponse({"detail": detail, "errors": jsonable_encoder(errors)}, status_code=422)


async def body_error(request: Request, exc: Exception) -> Response:
    """Vietnamese 422 when FastAPI cannot even parse a directive body (not UTF-8, nested too deep)."""
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith(PREFIX) and exc.status_code == 400:
        detail = (
            'Yêu cầu không hợp lệ: nội dung không phải JSON UTF-8 đọc được. Cần JSON dạng {"text": "<nội dung>", '
            '"scope": "<phạm vi, tùy chọn>"}.'
        )
        return JSONResponse({"detail": detail}, status_code=422)
    return await http_exception_handler(request, exc)


_PROBLEMS = {
    "json_invalid": "JSON không hợp lệ",
    "string_type": "phải là chuỗi",
    "model_attributes_type": "phải là một đối tượng JSON",
    "dict_type": "phải là một đối tượng JSON",
    "missing": "thiếu",
    "int_parsing": "phải là số nguyên",
    "unstorable_text": "chứa ký tự NUL hoặc ký tự đại diện (surrogate) lẻ",
}
