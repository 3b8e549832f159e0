"""The HTTP edges shared by every feature: the admin REST API's plumbing."""
