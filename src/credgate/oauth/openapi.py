"""OpenAPI descriptions of the lean OAuth routes, which the framework does not see.

They are merged into ``/openapi.json`` so that the document covers the whole HTTP surface, and
so that the fuzzing test exercises the token endpoint too.
"""

from __future__ import annotations

from typing import Any

__all__ = ["oauth_paths"]

_ERROR = {
    "description": "RFC 6749 §5.2 error",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {"type": "string"},
                    "error_description": {"type": "string"},
                },
            }
        }
    },
}
_TOKEN_FORM = {
    "type": "object",
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "scope": {"type": "string", "example": "service:integration"},
        "client_id": {"type": "string"},
        "client_secret": {"type": "string"},
    },
}
_TOKEN_OK = {
    "description": "An access token (RFC 6749 §5.1); the body has exactly these fields",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["token_type", "expires_in", "access_token", "scope"],
                "properties": {
                    "token_type": {"type": "string", "enum": ["Bearer"]},
                    "expires_in": {"type": "integer", "example": 900},
                    "access_token": {"type": "string", "description": "RFC 9068 JWT"},
                    "scope": {"type": "string"},
                },
            }
        }
    },
}


def _form_op(
    summary: str, form: dict[str, Any], ok: dict[str, Any], *, required: bool = True
) -> dict[str, Any]:
    return {
        "post": {
            "tags": ["OAuth 2.0"],
            "summary": summary,
            "security": [{"clientBasic": []}],
            "requestBody": {
                "required": required,
                "content": {"application/x-www-form-urlencoded": {"schema": form}},
            },
            "responses": {"200": ok, "400": _ERROR, "401": _ERROR, "413": _ERROR, "429": _ERROR},
        }
    }


def _get_op(summary: str) -> dict[str, Any]:
    return {
        "get": {
            "tags": ["OAuth 2.0"],
            "summary": summary,
            "responses": {
                "200": {"description": "JSON document", "content": {"application/json": {}}}
            },
        }
    }


def oauth_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    """(paths, security schemes) to merge into the OpenAPI document."""
    token_op = _form_op(
        "Token endpoint: client credentials grant (RFC 6749 §4.4)", _TOKEN_FORM, _TOKEN_OK
    )
    legacy = _form_op(
        "Legacy token endpoint; an empty body means client_credentials",
        _TOKEN_FORM,
        _TOKEN_OK,
        required=False,
    )
    token_form = {
        "type": "object",
        "required": ["token"],
        "properties": {"token": {"type": "string"}, "token_type_hint": {"type": "string"}},
    }
    paths = {
        "/oauth2/default/v1/token": token_op,
        "/api/v1/token": legacy,
        "/oauth2/default/v1/introspect": _form_op(
            "Token introspection (RFC 7662)",
            token_form,
            {"description": "{active: ...}", "content": {"application/json": {}}},
        ),
        "/oauth2/default/v1/revoke": _form_op(
            "Token revocation (RFC 7009)", token_form, {"description": "Revoked, or unknown"}
        ),
        "/.well-known/jwks.json": _get_op("Published signing keys (JWKS)"),
        "/forward-auth": {
            "get": {
                "tags": ["OAuth 2.0"],
                "summary": "Forward authentication for gateways: may this bearer token pass?",
                "description": (
                    "Checks the token against the permission of the original path (sent in "
                    "X-Forwarded-Uri or X-Original-URI, normalised as a gateway routes it) and "
                    "against ?permission=. A path that maps to no permission, or a request with "
                    "neither, is refused (403) unless ?permission=any."
                ),
                "parameters": [
                    {
                        "name": "permission",
                        "in": "query",
                        "required": False,
                        "description": "A permission id the token must hold, or 'any'",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {"description": "Allowed"},
                    "400": _ERROR,
                    "401": _ERROR,
                    "403": _ERROR,
                },
            }
        },
        "/.well-known/oauth-authorization-server": _get_op(
            "Authorization server metadata (RFC 8414)"
        ),
        "/.well-known/openid-configuration": _get_op("The same metadata, where many clients look"),
    }
    schemes = {
        "clientBasic": {"type": "http", "scheme": "basic", "description": "client_id:client_secret"}
    }
    return paths, schemes
