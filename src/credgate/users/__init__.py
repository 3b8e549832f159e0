"""Classic user accounts and their profiles (SPEC section 6)."""
