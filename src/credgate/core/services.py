"""Services by type: what the composition root provides to routes and pages.

A route asks for the service it needs by its class (or protocol), never for the whole container::

    ApiCredentials = Annotated[ApiCredentialService, Depends(provided(ApiCredentialService))]

    @router.get("/api-credentials")
    def list_credentials(service: ApiCredentials) -> ...

The container fills one :class:`Services` per process and the application keeps it in
``app.state.services``; a test may provide another implementation of the same type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["APP_STATE_SERVICES", "MissingServiceError", "Services", "protocol", "provided"]

T = TypeVar("T")

APP_STATE_SERVICES = "services"
"""The attribute of ``app.state`` that holds the application's :class:`Services`."""


class MissingServiceError(LookupError):
    """Nothing was provided for a type a route asked for: a wiring bug, not bad input."""


class Services:
    """A mapping from a service's type to the one instance of it this process uses."""

    def __init__(self) -> None:
        self._by_type: dict[type[Any], object] = {}

    def provide(self, kind: type[T], instance: T) -> None:
        self._by_type[kind] = instance

    def get(self, kind: type[T]) -> T:
        try:
            return cast(T, self._by_type[kind])
        except KeyError:
            raise MissingServiceError(
                f"no {kind.__qualname__} was provided; the container provides every service a "
                "route asks for"
            ) from None

    def __contains__(self, kind: type[Any]) -> bool:
        return kind in self._by_type


def provided(kind: type[T]) -> Callable[[Request], Awaitable[T]]:
    """A FastAPI dependency that answers the application's instance of ``kind``.

    It is a coroutine function although it only looks up a dict: the framework runs a plain
    function dependency in a worker thread, a hop that would cost more than the lookup on every
    request of the hot paths (the platform APIs).
    """

    from starlette.requests import Request

    async def dependency(request: Request) -> T:
        services: Services = getattr(request.app.state, APP_STATE_SERVICES)
        return services.get(kind)

    # The framework passes the request by this annotation. Imported here, not with the module:
    # the command line's services are a Services too, and it has no use for the web framework.
    dependency.__annotations__["request"] = Request
    dependency.__name__ = f"provided_{kind.__name__}"
    return dependency


def protocol(kind: Callable[..., T]) -> type[T]:
    """A protocol as a key of :class:`Services` (``provide(protocol(P), impl)``,
    ``provided(protocol(P))``): mypy accepts only concrete classes where ``type[T]`` is expected,
    and the implementation provided is still checked against the protocol."""
    return cast("type[T]", kind)
