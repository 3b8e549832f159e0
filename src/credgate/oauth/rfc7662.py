"""Token introspection, `RFC 7662 <https://www.rfc-editor.org/rfc/rfc7662>`_.

§2.1: the caller authenticates as a client and posts ``token`` (and an optional
``token_type_hint``). §2.2: the answer is ``{"active": false}`` for anything that is not a live
token *of this caller*; a client may introspect only the tokens issued to it, so introspection
cannot be used to probe other clients' tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

from credgate.core.asgi import PlainResponse, json_response
from credgate.oauth.clients import ClientRegistry
from credgate.oauth.errors import InvalidToken, OAuth2Error
from credgate.oauth.revocation import RevocationList
from credgate.oauth.rfc6749 import ClientAuthenticator, FormPost
from credgate.oauth.rfc9068 import AccessTokenVerifier

__all__ = ["IntrospectionEndpoint"]

_INACTIVE = {"active": False}


@dataclass(frozen=True, slots=True, eq=False, kw_only=True)
class IntrospectionEndpoint:
    authenticator: ClientAuthenticator
    verifier: AccessTokenVerifier
    registry: ClientRegistry
    revoked: RevocationList

    async def handle(self, post: FormPost) -> PlainResponse:
        try:
            caller, token = await self.authenticator.named_token(post)
        except OAuth2Error as error:
            return error.response()
        try:
            verified = self.verifier.verify(token)
        except InvalidToken:
            return json_response(200, _INACTIVE)
        if verified.client_id != caller.record.client_id or verified.jti in self.revoked:
            return json_response(200, _INACTIVE)
        owner = await self.registry.aget(verified.client_id)
        if owner is None or not owner.active:
            return json_response(200, _INACTIVE)
        claims = verified.claims
        return json_response(
            200,
            {
                "active": True,
                "scope": claims.get("scope", ""),
                "client_id": verified.client_id,
                "token_type": "Bearer",
                "exp": claims["exp"],
                "iat": claims["iat"],
                "sub": claims["sub"],
                "aud": claims["aud"],
                "iss": claims["iss"],
                "jti": verified.jti,
            },
        )
