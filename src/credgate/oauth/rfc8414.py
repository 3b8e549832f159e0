"""Authorization server metadata, `RFC 8414 <https://www.rfc-editor.org/rfc/rfc8414>`_.

The same document is served at ``/.well-known/oauth-authorization-server`` (with and without the
issuer's path, §3) and at ``/.well-known/openid-configuration``, where many client libraries
look first.
"""

from __future__ import annotations

from typing import Any

from credgate.core.permissions import CATALOGUE, INTEGRATION_SCOPE

__all__ = ["metadata"]


def metadata(*, issuer: str, login_base_url: str) -> dict[str, Any]:
    auth_methods = ["client_secret_basic", "client_secret_post"]
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/v1/token",
        "jwks_uri": f"{login_base_url}/.well-known/jwks.json",
        "introspection_endpoint": f"{issuer}/v1/introspect",
        "revocation_endpoint": f"{issuer}/v1/revoke",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "scopes_supported": [INTEGRATION_SCOPE, *(p.id for p in CATALOGUE)],
        "access_token_signing_alg_values_supported": ["ES256"],
        "service_documentation": f"{login_base_url}/docs",
    }
