"""Every platform module declares its public names in ``__all__``, and they all exist."""

import importlib
import inspect

import pytest

MODULES = [
    "credgate.core.permissions",
    "credgate.platform.schemas",
    "credgate.platform.schemas._common",
    "credgate.platform.schemas.nql",
    "credgate.platform.schemas.remote_actions",
    "credgate.platform.schemas.workflows",
    "credgate.platform.schemas.enrichment",
    "credgate.platform.schemas.campaigns",
    "credgate.platform.schemas.spark",
    "credgate.platform.schemas.devices",
    "credgate.platform.nql.engine",
    "credgate.platform.nql.render",
    "credgate.platform.nql.export",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_the_public_definitions(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert all(hasattr(module, n) for n in exported)
    defined_here = {
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", None) == name
    }
    assert defined_here <= exported
