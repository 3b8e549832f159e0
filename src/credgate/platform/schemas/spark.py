"""Spark API: ``POST /api/v1/spark/handoff`` (204 on success).

Error body: ``{message}``.
"""

from __future__ import annotations

import base64
import binascii
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Self

from pydantic import Field, model_validator

from credgate.core import permissions
from credgate.platform.schemas._common import (
    Problem,
    RequestError,
    WireModel,
    describe,
    header,
    parse_model,
)

__all__ = [
    "PERMISSION",
    "Handoff",
    "HandoffBody",
    "Message",
    "Part",
    "error_body",
    "parse_handoff",
]

PERMISSION: Final = permissions.SPARK.id

# RFC 6838 section 4.2: type "/" subtype, restricted-name characters.
_MIME_TYPE: Final = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
    r"(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(\"[^\"]*\"|[A-Za-z0-9!#$&^_.+-]+))*"
)


class Part(WireModel):
    """``{type: "TEXT", text}`` or ``{type: "FILE", fileContent, mimeType}``.

    ``fileContent`` is base64 (RFC 4648 section 4) and is checked to decode.
    """

    type: Literal["TEXT", "FILE"]
    text: str | None = None
    file_content: str | None = None
    mime_type: str | None = None

    @model_validator(mode="after")
    def _fits_type(self) -> Self:
        if self.type == "TEXT":
            if not self.text:
                raise ValueError("a TEXT part needs a non-empty text")
            return self
        if not self.file_content:
            raise ValueError("a FILE part needs a non-empty fileContent")
        try:
            base64.b64decode(self.file_content, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("fileContent must be base64") from None
        if not self.mime_type or not _MIME_TYPE.fullmatch(self.mime_type):
            raise ValueError("a FILE part needs a mimeType such as text/plain")
        return self


class Message(WireModel):
    """The conversation content handed over: one or more parts."""

    parts: list[Part] = Field(min_length=1)


class HandoffBody(WireModel):
    """Body of the handoff; ``metadata`` is an optional free-form JSON object."""

    metadata: dict[str, Any] | None = None
    message: Message


@dataclass(frozen=True, slots=True)
class Handoff:
    """A parsed handoff: who the conversation is for, their time zone, and the content."""

    user_principal_name: str
    timezone: zoneinfo.ZoneInfo | None
    body: HandoffBody


def error_body(message: str) -> dict[str, object]:
    """The Spark API's documented error body."""
    return {"message": message}


def _fail(problems: Sequence[Problem]) -> RequestError:
    return RequestError(400, error_body(describe(problems)), problems)


def _timezone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError/OSError: names such as "../x" or "" that are not zone keys at all.
        problem = Problem("Timezone", f"{name[:64]!r} is not an IANA time zone", "value")
        raise _fail([problem]) from None


def parse_handoff(headers: Mapping[str, str], body: object) -> Handoff:
    """Parse the headers and body of ``POST /api/v1/spark/handoff``.

    ``User-Principal-Name`` is required; ``Timezone``, when present, must be an IANA zone name.
    Header problems are reported before body problems.
    """
    upn = (header(headers, "User-Principal-Name") or "").strip()
    if not upn:
        raise _fail([Problem("User-Principal-Name", "header is required", "missing")])
    raw_zone = header(headers, "Timezone")
    zone = _timezone(raw_zone.strip()) if raw_zone is not None and raw_zone.strip() else None
    return Handoff(upn, zone, parse_model(HandoffBody, body, _fail))
