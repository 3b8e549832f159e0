"""The permission catalogue: stable ids that are also scope strings."""

import re

import pytest

from credgate.core import permissions
from credgate.core.permissions import (
    BY_ID,
    CATALOGUE,
    INTEGRATION_SCOPE,
    SCOPE_ALIASES,
    Permission,
    parse_permissions,
)

EXPECTED = [
    ("remote-actions", "Remote Actions API", "trigger and query remote actions"),
    ("enrichment", "Enrichment API", "write enrichment fields"),
    ("data-management", "Data management", "manage devices (schedule device deletions)"),
    ("workflows", "Workflows API", "list, inspect and trigger workflows"),
    ("campaigns", "Campaigns API", "trigger campaigns"),
    ("nql", "NQL API", "run saved queries and exports"),
    ("spark", "Spark API", "hand a live conversation over to Spark"),
    ("engines", "Engines API", "list the engines"),
    ("audit-trail", "Audit trail API", "read the audit trail"),
]


def test_catalogue_is_exactly_the_documented_table() -> None:
    assert [(p.id, p.label, p.description) for p in CATALOGUE] == EXPECTED
    assert list(BY_ID) == [row[0] for row in EXPECTED]


def test_ids_are_valid_scope_tokens() -> None:
    # RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    token = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
    for permission in CATALOGUE:
        assert token.fullmatch(permission.id)
    assert token.fullmatch(INTEGRATION_SCOPE)
    assert INTEGRATION_SCOPE == "service:integration"


def test_permission_is_frozen() -> None:
    with pytest.raises(AttributeError):
        CATALOGUE[0].id = "other"  # type: ignore[misc]
    assert isinstance(CATALOGUE[0], Permission)


def test_by_id_is_read_only() -> None:
    with pytest.raises(TypeError):
        BY_ID["x"] = CATALOGUE[0]  # type: ignore[index]


def test_parse_permissions_returns_ids() -> None:
    assert parse_permissions(["nql", "spark", "nql"]) == frozenset({"nql", "spark"})
    assert parse_permissions([]) == frozenset()


def test_parse_permissions_names_every_unknown() -> None:
    with pytest.raises(ValueError, match="unknown permission") as info:
        parse_permissions(["nql", "bogus", "also-bad"])
    assert "'also-bad'" in str(info.value)
    assert "'bogus'" in str(info.value)
    assert "'nql'" not in str(info.value)


def test_integration_scope_is_not_a_permission() -> None:
    with pytest.raises(ValueError, match="service:integration"):
        parse_permissions([INTEGRATION_SCOPE])


def test_documented_data_management_scope_alias() -> None:
    assert SCOPE_ALIASES["nx_dataplatform_device_deletion_api"] == "data-management"
    assert parse_permissions(["nx_dataplatform_device_deletion_api"]) == {"data-management"}


def test_named_constants_match_catalogue() -> None:
    assert permissions.DATA_MANAGEMENT is BY_ID["data-management"]
    assert permissions.REMOTE_ACTIONS is BY_ID["remote-actions"]
