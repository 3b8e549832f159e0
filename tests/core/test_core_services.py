"""Services by type: the container's instances reach routes through ``provided``."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from starlette.testclient import TestClient

from credgate.core.services import APP_STATE_SERVICES, MissingServiceError, Services, provided


class Greeter:
    def __init__(self, word: str) -> None:
        self.word = word


def test_a_route_gets_the_provided_instance_and_a_test_can_swap_it() -> None:
    app = FastAPI()

    @app.get("/")
    def hello(greeter: Annotated[Greeter, Depends(provided(Greeter))]) -> dict[str, str]:
        return {"word": greeter.word}

    services = Services()
    services.provide(Greeter, Greeter("hello"))
    setattr(app.state, APP_STATE_SERVICES, services)
    with TestClient(app) as client:
        assert client.get("/").json() == {"word": "hello"}
        services.provide(Greeter, Greeter("swapped"))
        assert client.get("/").json() == {"word": "swapped"}


def test_a_missing_service_names_its_type() -> None:
    services = Services()
    assert Greeter not in services
    with pytest.raises(MissingServiceError, match="Greeter"):
        services.get(Greeter)


def test_the_container_provides_what_the_routes_ask_for(container: object) -> None:
    from credgate.apicredentials.services import ApiCredentialService
    from credgate.container import Container

    assert isinstance(container, Container)
    assert container.services.get(ApiCredentialService) is container.api_credentials
