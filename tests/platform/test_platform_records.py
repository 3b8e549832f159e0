"""What the families do without an upstream: enrichment fills the inventory (200/207/400), NQL
answers from it (JSON v1, v2, CSV, exports behind a 15-minute link), every request is a record
that administrators can list."""

from __future__ import annotations

import csv
import gzip
import io
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import zstandard
from starlette.testclient import TestClient

from credgate.container import Container
from shared_installation import *  # noqa: F403 - its fixtures replace conftest.py's here

DEVICE = "0b5d2f9e-1f44-4c1e-9a39-3f1f2a6f0c11"


def _enrich(name: str, os: str, ram: object, tag: str = "lab") -> dict[str, object]:
    return {
        "identification": [{"name": "device/device/name", "value": name}],
        "fields": [
            {"name": "device/device/#os", "value": os},
            {"name": "device/device/#ram_gb", "value": ram},
            {"name": "device/device/configuration_tag", "value": tag},
        ],
    }


def _set_on_uid(
    client: TestClient, headers: dict[str, str], uid: str, fields: dict[str, str]
) -> Any:
    """Enrich the device ``uid`` with ``fields`` (names below ``device/device/``) through the
    Enrichment API."""
    item = {
        "identification": [{"name": "device/device/uid", "value": uid}],
        "fields": [
            {"name": f"device/device/{name}", "value": value} for name, value in fields.items()
        ],
    }
    return client.post(
        "/api/v1/enrichment/data/fields",
        json={"domain": "d", "enrichments": [item]},
        headers=headers,
    )


@pytest.fixture
def fleet(client: TestClient, seeded: Container, all_headers: dict[str, str]) -> str:
    """Three devices of a fresh OS name, written through the Enrichment API."""
    os_name = f"TestOS {uuid.uuid4().hex[:6]}"
    body = {
        "domain": "fleet",
        "enrichments": [
            _enrich("pc-b", os_name, 16),
            _enrich("pc-a", os_name, 8),
            _enrich("pc-c", os_name, 32, tag="=cmd()"),
        ],
    }
    response = client.post("/api/v1/enrichment/data/fields", json=body, headers=all_headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "success"}
    return os_name


def test_enrichment_200_207_400(
    client: TestClient, seeded: Container, all_headers: dict[str, str]
) -> None:
    good = _enrich("pc-ok", "Win", 4)
    undefined = {
        "identification": [{"name": "device/device/name", "value": "pc-x"}],
        "fields": [{"name": "device/device/#undefined_field", "value": "v"}],
    }
    two_ids = {
        "identification": [
            {"name": "device/device/name", "value": "a"},
            {"name": "device/device/uid", "value": DEVICE},
        ],
        "fields": [{"name": "device/device/configuration_tag", "value": "x"}],
    }
    partial = client.post(
        "/api/v1/enrichment/data/fields",
        json={"domain": "d", "enrichments": [good, undefined, two_ids]},
        headers=all_headers,
    )
    assert partial.status_code == 207
    body = partial.json()
    assert body["status"] == "partial_success"
    assert [e["identification"] for e in body["errors"]] == [
        [{"name": "device/device/name", "value": "pc-x"}],
        two_ids["identification"],
    ]
    assert body["errors"][0]["errors"][0]["code"] == "UNKNOWN_FIELD"
    assert body["errors"][1]["errors"][0]["code"] == "INVALID_IDENTIFICATION"
    wrong_type = _enrich("pc-y", "Win", "sixteen")
    failed = client.post(
        "/api/v1/enrichment/data/fields",
        json={"domain": "d", "enrichments": [undefined, wrong_type]},
        headers=all_headers,
    )
    assert failed.status_code == 400
    assert failed.json()["status"] == "error"
    assert failed.json()["errors"][1]["errors"][0]["code"] == "INVALID_FIELD_VALUE"
    rows = {r["name"]: r for r in seeded.platform.rows("devices")}
    assert rows["pc-ok"]["#ram_gb"] == 4
    assert "pc-x" not in rows
    assert "pc-y" not in rows


def test_enrichment_updates_and_clears_fields(
    client: TestClient, seeded: Container, all_headers: dict[str, str]
) -> None:
    uid = str(uuid.uuid4())
    first = {"virtualization/type": "vm", "configuration_tag": "gold"}
    assert _set_on_uid(client, all_headers, uid, first).status_code == 200
    cleared = _set_on_uid(client, all_headers, uid, {"configuration_tag": ""})
    assert cleared.status_code == 200
    row = next(r for r in seeded.platform.rows("devices") if r["uid"] == uid)
    assert row == {"uid": uid, "virtualization.type": "vm"}


def test_nql_json_v1_v2_and_csv(
    client: TestClient, fleet: str, all_headers: dict[str, str]
) -> None:
    request = {"queryId": "#devices_by_os", "parameters": {"os": fleet}}
    v1 = client.post("/api/v1/nql/execute", json=request, headers=all_headers)
    assert v1.status_code == 200
    body = v1.json()
    assert body["queryId"] == "#devices_by_os"
    assert body["rows"] == 3
    assert body["headers"] == ["name", "#os", "#ram_gb"]
    assert body["data"] == [["pc-a", fleet, 8], ["pc-b", fleet, 16], ["pc-c", fleet, 32]]
    assert set(body["executionDateTime"]) == {"year", "month", "day", "hour", "minute", "second"}
    assert fleet in body["executedQuery"]

    v2 = client.post(
        "/api/v2/nql/execute", json=request, headers={**all_headers, "x-utc-times": "true"}
    )
    assert v2.status_code == 200
    assert v2.json()["data"][0] == {"name": "pc-a", "#os": fleet, "#ram_gb": 8}
    assert v2.json()["executionDateTime"].endswith("Z")

    as_csv = client.post(
        "/api/v1/nql/execute", json=request, headers={**all_headers, "Accept": "text/csv"}
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(as_csv.text))) == [
        ["name", "#os", "#ram_gb"],
        ["pc-a", fleet, "8"],
        ["pc-b", fleet, "16"],
        ["pc-c", fleet, "32"],
    ]


def finished(client: TestClient, export_id: str, headers: dict[str, str]) -> Any:
    """The status of an export once the background worker is done with it."""
    deadline = time.monotonic() + 30
    while True:
        status = client.get(f"/api/v1/nql/status/{export_id}", headers=headers)
        if status.json()["status"] not in ("SUBMITTED", "IN_PROGRESS"):
            return status
        assert time.monotonic() < deadline, status.json()
        time.sleep(0.05)


@pytest.mark.parametrize("compression", ["NONE", "GZIP", "ZSTD"])
def test_export_status_and_signed_link(
    client: TestClient, fleet: str, all_headers: dict[str, str], token_for: object, compression: str
) -> None:
    started = client.post(
        "/api/v1/nql/export",
        json={"queryId": "#devices_by_os", "parameters": {"os": fleet}, "compression": compression},
        headers=all_headers,
    )
    assert started.status_code == 200
    export_id = started.json()["exportId"]
    status = finished(client, export_id, all_headers)
    assert status.status_code == 200
    assert status.json()["status"] == "COMPLETED"
    assert status.json()["errorDescription"] is None
    url = status.json()["resultsFileUrl"]
    parts = urlsplit(url)
    expires = int(parse_qs(parts.query)["expires"][0])
    assert 14 * 60 < expires - time.time() <= 15 * 60
    download = client.get(url)  # no bearer token: the link itself is the credential
    assert download.status_code == 200
    raw = download.content
    if compression == "GZIP":
        raw = gzip.decompress(raw)
    elif compression == "ZSTD":
        raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    lines = raw.decode().splitlines()
    assert lines[0] == "name,#os,#ram_gb"
    assert lines[1] == f"pc-a,{fleet},8"

    tampered = url.replace(f"expires={expires}", f"expires={expires + 60}")
    assert client.get(tampered).status_code == 403
    assert client.get(f"{parts.path}?expires={int(time.time()) - 1}&signature=x").status_code == 403
    # Another client cannot read this export's status.
    other = token_for(["nql"])  # type: ignore[operator]
    assert client.get(f"/api/v1/nql/status/{export_id}", headers=other).status_code == 404


def test_export_link_expires(
    client: TestClient, fleet: str, all_headers: dict[str, str], seeded: Container
) -> None:
    started = client.get(
        "/api/v1/nql/export",
        params={"queryId": "#devices_by_os", "os": fleet},
        headers=all_headers,
    )
    export_id = started.json()["exportId"]
    assert finished(client, export_id, all_headers).json()["status"] == "COMPLETED"
    old = seeded.platform.results_link(
        "http://127.0.0.1:8080", export_id, now=time.time() - 15 * 60 - 1
    )
    assert client.get(old).status_code == 403
    fresh = seeded.platform.results_link("http://127.0.0.1:8080", export_id)
    assert client.get(fresh).status_code == 200


def test_requests_are_records(
    client: TestClient, seeded: Container, all_headers: dict[str, str], admin_token: str
) -> None:
    wf = client.post(
        "/api/v2/workflows/execute",
        json={
            "workflowId": "#restart_service",
            "devices": [{"name": "pc-1"}],
            "params": {"a": "b"},
        },
        headers=all_headers,
    )
    assert wf.status_code == 200
    request_uuid = wf.json()["requestUuid"]
    assert len(wf.json()["executionsUuids"]) == 1
    camp = client.post(
        "/api/v1/euf/campaign/trigger",
        json={
            "campaignNqlId": "#onboarding",
            "userSid": ["S-1-5-9", "S-1-5-9", "S-1-5-8"],
            "expiresInMinutes": 5,
        },
        headers=all_headers,
    )
    assert [r["userSid"] for r in camp.json()["requests"]] == ["S-1-5-9", "S-1-5-8"]
    assert all(uuid.UUID(r["requestId"]) for r in camp.json()["requests"])
    handoff = client.post(
        "/api/v1/spark/handoff",
        json={
            "message": {
                "parts": [{"type": "FILE", "fileContent": "aGk=", "mimeType": "text/plain"}]
            }
        },
        headers={**all_headers, "User-Principal-Name": "grace@example.com"},
    )
    assert handoff.status_code == 204
    assert handoff.content == b""

    admin = {"Authorization": f"Bearer {admin_token}"}
    listed = client.get("/admin/api/v1/platform/requests", headers=admin).json()["items"]
    kinds = [r["kind"] for r in listed[:3]]
    assert kinds == ["handoff", "campaign", "workflow_execution"]
    assert listed[0]["target"] == "grace@example.com"
    one = client.get(f"/admin/api/v1/platform/requests/{request_uuid}", headers=admin).json()
    assert one["state"] == "SUBMITTED"
    assert one["payload"]["params"] == {"a": "b"}
    only = client.get(
        "/admin/api/v1/platform/requests", params={"kind": "campaign"}, headers=admin
    ).json()
    assert {r["kind"] for r in only["items"]} == {"campaign"}
    unknown = client.get("/admin/api/v1/platform/requests", params={"kind": "x"}, headers=admin)
    assert unknown.status_code == 404
    assert client.get("/admin/api/v1/platform/requests", headers=all_headers).status_code == 401


def test_device_deletion_removes_inventory_devices(
    client: TestClient, seeded: Container, all_headers: dict[str, str]
) -> None:
    uid = str(uuid.uuid4())
    _set_on_uid(client, all_headers, uid, {"configuration_tag": "to-delete"})
    assert any(r["uid"] == uid for r in seeded.platform.rows("devices"))
    response = client.post(
        "/api/v1/data-management/device/deletions",
        json={"devices": [{"uid": uid, "name": "pc"}, {"uid": "not-a-uuid", "name": "pc"}]},
        headers={**all_headers, "x-request-id": "abc-123"},
    )
    assert response.status_code == 202
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json() == {
        "scheduledCount": 1,
        "status": "ACCEPTED",
        "devices": [
            {"uid": uid, "name": "pc", "status": "SCHEDULED"},
            {"uid": "not-a-uuid", "name": "pc", "status": "INVALID"},
        ],
    }
    assert not any(r["uid"] == uid for r in seeded.platform.rows("devices"))


def test_export_without_its_parameter_is_refused(
    client: TestClient, seeded: Container, all_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/nql/export", json={"queryId": "#devices_by_os"}, headers=all_headers
    )
    # NQL's document lists no 400: the closest documented status, 404 (docs/contract.md).
    assert response.status_code == 404
    assert response.json()["source"] == "parameters.os"
    assert response.json()["code"] == 404
    latest = seeded.platform.list_requests("nql_export", limit=1)[0]
    assert latest.state == "ERROR"
    unknown = client.get("/api/v1/nql/export", params={"queryId": "#nope"}, headers=all_headers)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == 404
