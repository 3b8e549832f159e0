"""The classic integration methods: HTTP Basic or classic OAuth scopes, NXQL, engines, audit trail (SPEC section 6)."""
