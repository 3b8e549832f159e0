"""The admin REST API's plain list routes: one page of what a feature's service reads.

No ``from __future__ import annotations`` here: FastAPI reads the endpoint's annotations, which
name the service type given at run time, as objects.
"""

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request

from credgate.core.paging import Page, PageRequest
from credgate.core.services import provided
from credgate.web.api import CurrentAdmin, Paging, page_answer

__all__ = ["page_route"]

S = TypeVar("S")

Read = Callable[[S, PageRequest], Page[Any]]


def page_route(
    router: APIRouter, path: str, service: type[S], *, summary: str
) -> Callable[[Read[S]], Read[S]]:
    """Decorate ``read(service, paging)`` into ``GET path``, named after ``read``: for any
    administrator, the page it reads in the REST shape of a page (``limit``, ``cursor`` and
    ``q`` query parameters; ``items``, ``total`` and the ``next`` link)."""

    def register(read: Read[S]) -> Read[S]:
        # Run in the worker threads, as the other routes that read the database.
        def endpoint(
            request: Request,
            paging: Paging,
            opened: Annotated[S, Depends(provided(service))],
            _admin: CurrentAdmin,
        ) -> dict[str, Any]:
            return page_answer(request.url, read(opened, paging))

        router.add_api_route(path, endpoint, methods=["GET"], name=read.__name__, summary=summary)
        return read

    return register
