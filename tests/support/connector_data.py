"""Connector credentials of every kind, as the admin API takes them, for the connector tests."""

from __future__ import annotations

import copy
from typing import Any

import asyncssh

HOST_KEY = (
    asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    .export_public_key("openssh")
    .decode()
    .strip()
)
PASSWORD = "Pw-7c1e0b9d-basic"
TOKEN = "Tk-2f8a3d5e-bearer"
CLIENT_SECRET = "Cs-9b4e6a1f-oauth"
CODE_SECRET = "Cs-4d7c2e8a-code"
SFTP_PASSWORD = "Pw-1a2b3c4d-sftp"
ALL_SECRETS = (PASSWORD, TOKEN, CLIENT_SECRET, CODE_SECRET, SFTP_PASSWORD)

BASIC = {
    "name": "ServiceNow",
    "protocol": "HTTPS",
    "url": "https://ven01063.service-now.com/",
    "authorization": {"type": "BASIC", "username": "svc", "password": PASSWORD},
}
BEARER = {
    "name": "Freshservice",
    "protocol": "HTTPS",
    "url": "https://api.freshservice.com/",
    "authorization": {"type": "BEARER", "token": TOKEN, "header_prefix": ""},
}
CLIENT_CREDENTIALS = {
    "name": "Jira",
    "protocol": "HTTPS",
    "url": "https://myco.atlassian.net/",
    "authorization": {
        "type": "OAUTH2_CLIENT_CREDENTIALS",
        "client_id": "jira-client",
        "client_secret": CLIENT_SECRET,
        "access_token_url": "https://auth.atlassian.com/oauth/token",
        "scope": "write:servicedesk-request",
    },
}
AUTHORIZATION_CODE = {
    "name": "4me",
    "protocol": "HTTPS",
    "url": "https://api.4me.com/",
    "authorization": {
        "type": "OAUTH2_AUTHORIZATION_CODE",
        "client_id": "4me-client",
        "client_secret": CODE_SECRET,
        "authorization_url": "https://login.4me.com/oauth/authorize",
        "access_token_url": "https://login.4me.com/oauth/token",
    },
}
SFTP = {
    "name": "Exports",
    "protocol": "SFTP",
    "url": "sftp://sftp.example.com:22/",
    "authorization": {"username": "exporter", "password": SFTP_PASSWORD, "host_key": HOST_KEY},
}
NO_AUTH = {
    "name": "Teams webhook",
    "protocol": "HTTPS",
    "url": "https://hooks.example.com/",
    "authorization": {"type": "NONE"},
}
EVERY_KIND = (BASIC, BEARER, CLIENT_CREDENTIALS, AUTHORIZATION_CODE, SFTP, NO_AUTH)
#: An address that refuses connections at once: the discard port, on loopback.
UNREACHABLE = "https://127.0.0.1:9/"


def variant(
    body: dict[str, Any], name: str | None = None, url: str | None = None, **authorization: str
) -> dict[str, Any]:
    """A copy of ``body`` with another name, address or authorization fields."""
    changed = copy.deepcopy(body)
    changed.update({k: v for k, v in {"name": name, "url": url}.items() if v is not None})
    changed["authorization"].update(authorization)
    return changed
