"""credgate: integration credentials, inbound (OAuth 2.0 API credentials) and outbound (connector credentials)."""

__version__ = "0.1.0"
