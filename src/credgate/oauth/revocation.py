"""This node's list of revoked access tokens, kept until each would have expired anyway."""

from __future__ import annotations

import time

from sqlalchemy import select

from credgate.core.db import Database, utcnow
from credgate.oauth.models import RevokedToken

__all__ = ["CHANGE_KIND", "RevocationList", "change_key"]

CHANGE_KIND = "token"


def change_key(jti: str, expires_at: int) -> str:
    return f"{jti}|{expires_at}"


class RevocationList:
    def __init__(self) -> None:
        self._revoked: dict[str, int] = {}

    def load(self, db: Database) -> None:
        with db.session() as session:
            rows = session.execute(
                select(RevokedToken.jti, RevokedToken.expires_at).where(
                    RevokedToken.expires_at > utcnow()
                )
            ).all()
        for jti, expires_at in rows:
            self._revoked[jti] = int(expires_at.timestamp())

    def add(self, jti: str, expires_at: int) -> None:
        self._revoked[jti] = expires_at

    def on_change(self, kind: str, key: str) -> None:
        if kind == CHANGE_KIND:
            jti, _, exp = key.partition("|")
            self.add(jti, int(exp) if exp.isdigit() else int(time.time()) + 86400)

    def __contains__(self, jti: object) -> bool:
        return jti in self._revoked

    def prune(self) -> None:
        now = time.time()
        for jti in [j for j, exp in self._revoked.items() if exp < now - 600]:
            self._revoked.pop(jti, None)
