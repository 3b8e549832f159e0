"""What the platform feature offers to other features; nothing else of it may be imported by them.

- **The NQL engine** (re-exported from :mod:`credgate.platform.nql.engine` and
  :mod:`~credgate.platform.nql.render`): classic compiles NXQL to the same query definitions,
  evaluates them with the same meaning and renders the cells the same way. The engine is pure
  (standard library and pydantic), so importing it drags in no database, route or service.
- **Saved queries** (:class:`SavedQueries`): outbound exporters list them, check their parameters
  and run them. :class:`credgate.platform.saved_queries.StoredQueries` implements it; the
  container binds it.
- **The request sink** (:class:`RequestSink`): the platform calls it with each request it stores,
  in the storing transaction, so that outbound's webhook outbox commits with it. Outbound's
  ``WebhookService.on_platform_request`` implements it; the container connects them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from credgate.platform.nql.engine import (
    OBJECTS,
    SINGULAR,
    ObjectName,
    ParameterError,
    QueryDefinition,
    QueryDefinitionError,
    QueryExecutionError,
    Result,
    execute,
    validate_query_definition,
)
from credgate.platform.nql.render import json_cell, render_csv

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "OBJECTS",
    "SINGULAR",
    "ObjectName",
    "ParameterError",
    "QueryDefinition",
    "QueryDefinitionError",
    "QueryExecutionError",
    "RecordedRequest",
    "RequestSink",
    "Result",
    "SavedQueries",
    "execute",
    "json_cell",
    "render_csv",
    "validate_query_definition",
]


class SavedQueries(Protocol):
    """The saved NQL queries (``/nql/queries``), by id."""

    def catalog(self) -> list[tuple[str, list[str]]]:
        """Every saved query's id, with the names of the parameters it needs."""
        ...

    def parameters(self, query_id: str) -> list[str] | None:
        """The names of the parameters the query needs; None when no such query is saved."""
        ...

    def run(
        self, query_id: str, parameters: Mapping[str, str], *, max_rows: int
    ) -> tuple[list[str], list[list[object]]]:
        """The query's headers and rows (at most ``max_rows``); :class:`LookupError` when it is
        no longer saved, the engine's errors when the parameters do not fit it."""
        ...


class RecordedRequest(Protocol):
    """A platform request as stored (remote action, workflow, campaign, enrichment...)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...
    @property
    def result(self) -> Mapping[str, Any] | None: ...


class RequestSink(Protocol):
    def __call__(self, session: Session, request: RecordedRequest, /) -> None:
        """Called in the transaction that stores ``request``; what it adds commits with it."""
        ...
