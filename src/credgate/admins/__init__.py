"""Administrators: local accounts, personal API tokens and browser sessions."""
