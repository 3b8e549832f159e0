"""Webhook templates: the resource path, headers and JSON payload, in Jinja2's sandbox.

Values are escaped for where they land: in the path, every substituted value is percent-encoded
(RFC 3986 section 2.1); in the payload, a string is JSON-escaped (RFC 8259 section 7) so it stays
inside the quotes it is written between, and a number, boolean, null, object or array is written
as JSON. The rendered payload must parse as JSON.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import quote

from jinja2 import ChainableUndefined, Template, TemplateError, Undefined, meta
from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "TemplateProblem",
    "check_variables",
    "render_header",
    "render_payload",
    "render_resource",
]

_MAX_OUTPUT: Final = 1 << 20


class TemplateProblem(ValueError):
    """A template that does not compile or render; ``field`` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _json_value(value: Any) -> str:
    if isinstance(value, Undefined):
        return "null"
    if isinstance(value, str):
        return json.dumps(value)[1:-1]
    if value is None or isinstance(value, bool | int | float | list | dict | tuple):
        return json.dumps(value, default=str)
    return json.dumps(str(value))[1:-1]


def _url_value(value: Any) -> str:
    return quote("" if value is None or isinstance(value, Undefined) else str(value), safe="")


def _text_value(value: Any) -> str:
    return "" if value is None or isinstance(value, Undefined) else str(value)


def _env(finalize: Any) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=ChainableUndefined,
        finalize=finalize,
        autoescape=False,
        keep_trailing_newline=True,
    )


_PAYLOAD = _env(_json_value)
_URL = _env(_url_value)
_TEXT = _env(_text_value)


def check_variables(field: str, source: str, known: Iterable[str]) -> None:
    """Refuse a template that uses a variable no event has (a typo would render empty)."""
    try:
        used = meta.find_undeclared_variables(_TEXT.parse(source))
    except TemplateError as exc:
        raise TemplateProblem(field, f"template error: {exc.message or exc}") from None
    unknown = sorted(used - set(known))
    if unknown:
        raise TemplateProblem(field, f"unknown variable(s): {', '.join(unknown)}")


@functools.lru_cache(maxsize=1024)
def _compiled(env: SandboxedEnvironment, source: str) -> Template:
    # Compiling costs far more than rendering, and a webhook sends the same templates for
    # every event.
    return env.from_string(source)


def _render(env: SandboxedEnvironment, field: str, source: str, context: Mapping[str, Any]) -> str:
    """Render; a missing field renders as null (JSON) or empty (path, header)."""
    if "{" not in source:  # no tag, expression or comment: nothing for Jinja to do
        return _checked_size(field, source)
    try:
        out = _compiled(env, source).render(**context)
    except TemplateError as exc:
        raise TemplateProblem(field, f"template error: {exc.message or exc}") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateProblem(field, f"template error: {exc}") from None
    return _checked_size(field, out)


def _checked_size(field: str, out: str) -> str:
    if len(out) > _MAX_OUTPUT:
        raise TemplateProblem(field, "the rendered text is larger than 1 MiB")
    return out


def render_payload(source: str, context: Mapping[str, Any]) -> bytes:
    """The JSON body; an empty template sends the whole context as JSON."""
    if not source.strip():
        return json.dumps(dict(context), default=str).encode()
    text = _render(_PAYLOAD, "payload_template", source, context)
    try:
        json.loads(text)
    except ValueError as exc:
        raise TemplateProblem(
            "payload_template", f"the rendered payload is not JSON: {exc}"
        ) from None
    return text.encode()


def render_resource(source: str, context: Mapping[str, Any]) -> str:
    """The resource path and ``key=value`` parameters, values percent-encoded."""
    out = _render(_URL, "resource", source, context)
    if any(c in out for c in "\r\n\t ") or "://" in out:
        raise TemplateProblem(
            "resource", "the path must not hold spaces, control characters or a scheme"
        )
    return out


def render_header(name: str, source: str, context: Mapping[str, Any]) -> str:
    out = _render(_TEXT, f"headers.{name}", source, context)
    if any(ord(c) < 32 or ord(c) == 127 for c in out):
        raise TemplateProblem(f"headers.{name}", "a header value must not hold control characters")
    return out
