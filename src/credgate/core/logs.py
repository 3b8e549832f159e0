"""Structured logs that never carry a secret.

Every record passes through :class:`RedactingFilter`, which masks credgate secrets (by their
prefix and shape), JWTs, and the values of ``Authorization``/``password``/``secret``/``token``
fields wherever they appear in a message or its arguments. Code should never log a secret in the
first place; this filter is the net under that rule, and a test checks it.

Logs are lines for people on a terminal and JSON objects, one a line, for a collector: the
``auto`` format picks by whether standard error is a terminal.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

__all__ = ["JsonFormatter", "RedactingFilter", "configure_logging", "redact", "resolve_format"]

_PATTERNS = (
    re.compile(r"\b(?:cgs|cgat)_[0-9A-Za-z]{20,}"),  # credgate secrets and admin tokens
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # JWTs
    re.compile(
        r"(?i)\b(authorization|proxy-authorization)([\"']?\s*[:=]\s*[\"']?)(basic|bearer)\s+[^\s\"',}]+"
    ),
    re.compile(
        r"(?i)\b(password|passwd|client_secret|secret|token|access_token|refresh_token|api_key)"
        r"([\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"
    ),
)
_MASK = "[redacted]"


def redact(text: str) -> str:
    text = _PATTERNS[0].sub(_MASK, text)
    text = _PATTERNS[1].sub(_MASK, text)
    text = _PATTERNS[2].sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)} {_MASK}", text)
    return _PATTERNS[3].sub(lambda m: f"{m.group(1)}{m.group(2)}{_MASK}", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    # color_message: uvicorn's copy of the message with ANSI colours, for its own terminal
    # formatter; in JSON it only repeats the message with escape codes.
    _SKIP = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {
        "message",
        "asctime",
        "color_message",
    }

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._SKIP and not key.startswith("_"):
                entry[key] = (
                    value
                    if isinstance(value, (int, float, bool, type(None)))
                    else redact(str(value))
                )
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def resolve_format(fmt: str, stream: Any = None) -> str:
    """``json`` or ``text``: ``auto`` is text when ``stream`` (standard error) is a terminal."""
    if fmt != "auto":
        return fmt
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter()
        if resolve_format(fmt) == "json"
        else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
