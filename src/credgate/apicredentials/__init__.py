"""API credentials: the OAuth 2.0 clients that integrations use to call credgate's APIs."""
