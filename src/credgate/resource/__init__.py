"""Resource servers: protecting routes with credgate-issued bearer tokens."""
