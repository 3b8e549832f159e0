"""Secrets, their hashes, the AES-GCM vault and the token-signing keys."""
