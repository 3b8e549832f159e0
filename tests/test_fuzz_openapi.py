"""Fuzzing the OpenAPI surface with schemathesis: whatever it sends, no answer is a 5xx.

Every operation in ``/openapi.json`` gets generated requests (valid and invalid by the schema)
from schemathesis, sent in-process to the real application with a real database behind it.
The operations are dealt into a few shards, each a test of its own with its own installation,
so that the test workers share them rather than one worker running all of them at the end.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import given

from credgate.app import CredgateApp
from support.fuzzing import reproducible

EXAMPLES = 25
SHARDS = 4


@pytest.mark.parametrize("shard", range(SHARDS))
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_no_server_errors(app: CredgateApp, admin_token: str, shard: int) -> None:
    from starlette.testclient import TestClient

    from credgate.core.audit.services import Actor
    from credgate.core.permissions import CATALOGUE

    container = app.container
    created = container.api_credentials.create(
        name="fuzzer", permissions=[p.id for p in CATALOGUE], actor=Actor("tests", "pytest")
    )
    with TestClient(app) as client:
        token = client.post(
            "/api/v1/token", auth=(created.credential.client_id, created.client_secret)
        ).json()["access_token"]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    admin_headers = {"Authorization": f"Bearer {admin_token}"}
    revoked = 0
    platform_headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    statuses: set[int] = set()
    operations = 0
    for index, result in enumerate(schema.get_all_operations()):
        if index % SHARDS != shard:
            continue
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @reproducible(EXAMPLES)
        def check(case: schemathesis.Case) -> None:
            is_platform = (
                case.path.startswith(("/api/v1/", "/api/v2/")) and case.path != "/api/v1/token"
            )
            nonlocal revoked
            response = case.call(headers=platform_headers if is_platform else admin_headers)
            if container.admins.check_token(admin_headers["Authorization"][7:]) is None:
                # It revoked (or disabled) its own admin token: a new one keeps the rest reachable.
                revoked += 1
                fresh = container.admins.issue_token(
                    "admin", f"fuzzer {revoked}", actor=Actor("tests", "pytest")
                )
                admin_headers["Authorization"] = f"Bearer {fresh.token}"
            statuses.add(response.status_code)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}"
                )

        check()
    assert operations >= 10
    print(f"shard {shard}: {operations} operations, statuses {sorted(statuses)}")
    assert failures == []
    assert {200, 400, 422} <= statuses, statuses  # it reached the handlers, and their validation
