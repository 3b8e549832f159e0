"""Token revocation, `RFC 7009 <https://www.rfc-editor.org/rfc/rfc7009>`_.

§2.1: the client authenticates and posts ``token``; the server checks that the token was issued
to that client. §2.2: "invalid tokens do not cause an error response", since the client cannot
do anything about them: the answer is 200 with an empty body. A revoked token stops working on
this node at once, and on every other node at its next poll of the change log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio.to_thread

from credgate.core.asgi import PlainResponse
from credgate.core.changes import publish
from credgate.core.db import Database
from credgate.oauth.errors import InvalidToken, OAuth2Error, UnauthorizedClient
from credgate.oauth.models import RevokedToken
from credgate.oauth.revocation import CHANGE_KIND, RevocationList, change_key
from credgate.oauth.rfc6749 import ClientAuthenticator, FormPost
from credgate.oauth.rfc9068 import AccessTokenVerifier

__all__ = ["RevocationEndpoint"]

_OK = PlainResponse(200, b"", [(b"cache-control", b"no-store")])


@dataclass(frozen=True, slots=True, eq=False, kw_only=True)
class RevocationEndpoint:
    db: Database = field(repr=False)
    authenticator: ClientAuthenticator
    verifier: AccessTokenVerifier
    revoked: RevocationList
    on_change: Callable[[str, str], None]

    def _store(self, jti: str, client_id: str, expires_at: int) -> None:
        with self.db.session() as session:
            if session.get(RevokedToken, jti) is None:
                session.add(
                    RevokedToken(
                        jti=jti,
                        client_id=client_id,
                        expires_at=dt.datetime.fromtimestamp(expires_at, dt.UTC),
                    )
                )
                publish(session, CHANGE_KIND, change_key(jti, expires_at))

    async def handle(self, post: FormPost) -> PlainResponse:
        try:
            caller, token = await self.authenticator.named_token(post)
            try:
                verified = self.verifier.verify(token)
            except InvalidToken:
                return _OK
            if verified.client_id != caller.record.client_id:
                raise UnauthorizedClient("the token was not issued to this client")
        except OAuth2Error as error:
            return error.response()
        await anyio.to_thread.run_sync(
            self._store, verified.jti, verified.client_id, verified.expires_at
        )
        self.on_change(CHANGE_KIND, change_key(verified.jti, verified.expires_at))
        return _OK
