"""Every operation of the platform's seven published OpenAPI documents, against a live credgate.

schemathesis reads the documents themselves (from ``../shared/reference/nexthink-openapi/``) and
sends generated requests with a real token; each answer must have a status code, a content type
and a body that the document lists for the operation.
"""

from __future__ import annotations

from typing import Any, Final

import pytest
import schemathesis
from hypothesis import given
from platform_contract import DOCUMENTS, Contract, document_names, load_document, load_schema
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from support.fuzzing import reproducible

EXAMPLES: Final = 10
CHECKS: Final = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

_METHODS: Final = ("get", "put", "post", "delete", "patch")


def _operations() -> list[Any]:
    params = [
        pytest.param(
            name,
            method.upper(),
            path,
            id=f"{name.split('-api')[0].removeprefix('nexthink-').removesuffix('-openapi.json')}:{method.upper()} {path}",
        )
        for name in document_names()
        for path, item in load_document(name)["paths"].items()
        for method in item
        if method in _METHODS
    ]
    return params or [
        pytest.param(
            "",
            "",
            "",
            marks=pytest.mark.skip(reason=f"the published documents are not in {DOCUMENTS}"),
        )
    ]


@pytest.mark.parametrize(("document", "method", "path"), _operations())
def test_operation_conforms(contract: Contract, document: str, method: str, path: str) -> None:
    schema = load_schema(document)
    operation = schema[path][method]
    ran = 0

    @given(case=operation.as_strategy())
    @reproducible(EXAMPLES)
    def check(case: schemathesis.Case) -> None:
        nonlocal ran
        ran += 1
        case.call_and_validate(base_url=contract.url, headers=contract.headers, checks=CHECKS)

    check()
    print(f"{method} {path}: {ran} cases")
    assert ran >= 1
