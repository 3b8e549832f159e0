"""Structured logs that never carry a secret.

Every record passes through :class:`RedactingFilter`, which masks credgate secrets (by their
prefix and shape), JWTs, and the values of ``Authorization``/``password``/``secret``/``token``
fields wherever they appear in a message or its arguments. Code should never log a secret in the
first place; this filter is the net under that rule, and a test checks it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

__all__ = ["RedactingFilter", "configure_logging", "redact"]

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
    _SKIP = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {
        "message",
        "asctime",
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


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
