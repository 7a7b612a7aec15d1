"""Neutral messages: buttons survive the outbox column and a damaged one never breaks a send; an event wider than
its database columns is named before it is stored."""

from __future__ import annotations

from tocns.core.messages import (
    MAX_BUTTONS,
    Button,
    ChatType,
    IncomingMessage,
    Mention,
    buttons_from_json,
    buttons_to_json,
    too_wide,
)


def test_buttons_round_trip_and_damage_is_dropped() -> None:
    buttons = [Button("Đã nhận", "/danhan 12"), Button("Xong", "/xong 3")]
    assert buttons_from_json(buttons_to_json(buttons)) == buttons
    assert buttons_to_json([]) is None
    many = [Button(str(n), f"/xong {n}") for n in range(MAX_BUTTONS + 5)]
    assert len(buttons_from_json(buttons_to_json(many))) == MAX_BUTTONS
    for damaged in ("{", '{"label": "x"}', '[{"label": "x"}, 3, {"label": "", "command": "/x"}]'):
        assert buttons_from_json(damaged) == []


def test_the_first_field_too_wide_for_its_column_is_named() -> None:
    def message(**kw: object) -> IncomingMessage:
        fields = {
            "platform": "telegram",
            "chat_id": "1",
            "chat_type": ChatType.GROUP,
            "user_id": "9",
            "display_name": "Lan",
            "text": "/ghi",
        }
        return IncomingMessage(**{**fields, **kw})  # type: ignore[arg-type]

    assert too_wide(message()) is None
    assert too_wide(message(display_name="A" * 201)) == "display_name is 201 characters, over the 200 it is stored in"
    tagged = message(mentions=[Mention(user_id="u" * 65, display_name="Lan")])
    assert too_wide(tagged) == "mention.user_id is 65 characters, over the 64 it is stored in"
