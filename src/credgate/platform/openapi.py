"""OpenAPI request bodies and the bearer scheme for the platform routes.

The routes parse their bodies themselves (to answer with each family's documented error body),
so the framework cannot see the models; this module adds them to the document from the same
pydantic models the parsers use, so clients, docs and the fuzzing test see real shapes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from credgate.platform.schemas import campaigns, devices, nql, remote_actions, spark, workflows

__all__ = ["document_platform"]

_ENRICHMENT: dict[str, Any] = {
    "type": "object",
    "required": ["domain", "enrichments"],
    "properties": {
        "domain": {"type": "string"},
        "enrichments": {
            "type": "array",
            "maxItems": 10000,
            "items": {
                "type": "object",
                "required": ["identification", "fields"],
                "properties": {
                    "identification": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 1,
                        "items": {
                            "type": "object",
                            "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
                        },
                    },
                    "fields": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"name": {"type": "string"}, "value": {}},
                        },
                    },
                },
            },
        },
    },
}

_BODIES: dict[tuple[str, str], type[BaseModel] | dict[str, Any]] = {
    ("/api/v1/workflows/execute", "post"): workflows.ExecuteRequestV1,
    ("/api/v2/workflows/execute", "post"): workflows.ExecuteRequestV2,
    (
        "/api/v1/workflows/workflows/{workflow_uuid}/execution/{execution_uuid}/trigger",
        "post",
    ): workflows.TriggerRequest,
    ("/api/v1/act/execute", "post"): remote_actions.ExecuteRequest,
    ("/api/v1/nql/execute", "post"): nql.ExecuteRequest,
    ("/api/v2/nql/execute", "post"): nql.ExecuteRequest,
    ("/api/v1/nql/export", "post"): nql.ExportRequest,
    ("/api/v1/euf/campaign/trigger", "post"): campaigns.TriggerRequest,
    ("/api/v1/spark/handoff", "post"): spark.HandoffBody,
    ("/api/v1/data-management/device/deletions", "post"): devices.DeletionRequest,
    ("/api/v1/enrichment/data/fields", "post"): _ENRICHMENT,
}


def _schema(source: type[BaseModel] | dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    if isinstance(source, dict):
        return source
    schema = source.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    return schema


def document_platform(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    components.setdefault("securitySchemes", {})["bearerJWT"] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from /oauth2/default/v1/token (RFC 9068)",
    }
    for path, operations in document.get("paths", {}).items():
        if not path.startswith(("/api/v1/", "/api/v2/")) or path == "/api/v1/token":
            continue
        for method, operation in operations.items():
            operation["security"] = [{"bearerJWT": []}]
            body = _BODIES.get((path, method))
            if body is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": _schema(body, schemas)}},
                }
