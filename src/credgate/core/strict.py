"""The base of the bodies credgate accepts as JSON."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["StrictModel"]


class StrictModel(BaseModel):
    """A body that refuses a field it does not declare: a misspelt or outdated field name is
    answered with a 422 that names it, never silently ignored."""

    model_config = ConfigDict(extra="forbid")
