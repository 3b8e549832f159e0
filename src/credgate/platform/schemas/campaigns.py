"""Campaigns API: ``POST /api/v1/euf/campaign/trigger``.

Error body: ``{code, message}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from pydantic import Field, field_validator

from credgate.core import permissions
from credgate.platform.schemas._common import (
    SID_PATTERN,
    WireModel,
    code_message_body,
    invalid_request,
    parse_model,
    uuid_text,
)

__all__ = [
    "MAX_EXPIRES_IN_MINUTES",
    "MAX_PARAMETERS",
    "MAX_USERS",
    "MIN_EXPIRES_IN_MINUTES",
    "PERMISSION",
    "TriggerOutcome",
    "TriggerRequest",
    "error_body",
    "outcomes",
    "parse_trigger",
    "trigger_response",
]

PERMISSION: Final = permissions.CAMPAIGNS.id
MAX_USERS: Final = 10_000
MIN_EXPIRES_IN_MINUTES: Final = 1
MAX_EXPIRES_IN_MINUTES: Final = 525_600
MAX_PARAMETERS: Final = 30


class TriggerRequest(WireModel):
    """Body of the trigger; ``user_sid`` keeps the first occurrence of each SID, in order.

    The 10,000 limit applies to the list as sent, before duplicates are dropped.
    """

    campaign_nql_id: str = Field(min_length=1)
    # Plain strings, as documented: a malformed SID fails that user alone (``outcomes``).
    user_sid: list[str] = Field(min_length=1, max_length=MAX_USERS)
    expires_in_minutes: int = Field(ge=MIN_EXPIRES_IN_MINUTES, le=MAX_EXPIRES_IN_MINUTES)
    parameters: dict[str, str] = Field(default_factory=dict, max_length=MAX_PARAMETERS)

    @field_validator("user_sid", mode="after")
    @classmethod
    def _drop_duplicates(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


#: The Campaigns API's documented error body.
error_body = code_message_body
_fail = invalid_request


def parse_trigger(body: object) -> TriggerRequest:
    """Parse the body of ``POST /api/v1/euf/campaign/trigger``."""
    return parse_model(TriggerRequest, body, _fail)


@dataclass(frozen=True, slots=True)
class TriggerOutcome:
    """What became of one user: a request id when triggered, a message when not."""

    user_sid: str
    request_id: uuid.UUID | str | None = None
    message: str | None = None


def outcomes(user_sids: Iterable[str]) -> list[TriggerOutcome]:
    """One outcome per user: a new request for a well-formed SID, the reason for any other."""
    return [
        TriggerOutcome(sid, request_id=uuid.uuid4())
        if SID_PATTERN.fullmatch(sid)
        else TriggerOutcome(sid, message=f"userSid: {sid[:100]!r} is not a SID")
        for sid in user_sids
    ]


def trigger_response(outcomes: Sequence[TriggerOutcome]) -> dict[str, object]:
    """200 body: ``{requests: [{requestId?, userSid, message?}]}``, optional keys omitted."""
    requests: list[dict[str, object]] = []
    for outcome in outcomes:
        entry: dict[str, object] = {}
        if outcome.request_id is not None:
            entry["requestId"] = uuid_text(outcome.request_id)
        entry["userSid"] = outcome.user_sid
        if outcome.message is not None:
            entry["message"] = outcome.message
        requests.append(entry)
    return {"requests": requests}
