"""The audit trail of administrative changes: who, what, when, from where; never a secret."""
