"""Outbound connectors: credentials, their authentication runtime, SSH host keys and SFTP."""
