"""Outbound connectors: credentials, their authentication container, SSH host keys and SFTP."""
