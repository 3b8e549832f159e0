"""The SSH side of the SFTP tests: an asyncssh server that records what it was shown."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

import asyncssh


@dataclass
class AuthLog:
    """What the server saw: connections and every authentication attempt."""

    connections: int = 0
    auth_started: list[str] = field(default_factory=list)
    password_attempts: int = 0


class RecordingServer(asyncssh.SSHServer):
    """Password authentication for one user, counted in ``log``."""

    def __init__(self, log: AuthLog, user: str, password: str) -> None:
        self.log = log
        self.user = user
        self.password = password

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.log.connections += 1

    def begin_auth(self, username: str) -> bool:
        self.log.auth_started.append(username)
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        self.log.password_attempts += 1
        return username == self.user and hmac.compare_digest(
            password.encode(), self.password.encode()
        )
