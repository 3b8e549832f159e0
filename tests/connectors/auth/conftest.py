"""Fixtures of the outbound-auth tests; the peers themselves live in auth_peers.py."""

from auth_peers import secret_log_check, token_server

__all__ = ["secret_log_check", "token_server"]
