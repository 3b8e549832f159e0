"""Prometheus metrics. Counters are bound to their labels once, so the hot path only adds."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

__all__ = ["Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.tokens_issued = self._counter(
            "tokens_issued", "Access tokens issued by the token endpoint."
        )
        self.token_errors = self._counter(
            "token_errors", "Token endpoint errors by RFC 6749 error code.", "error"
        )
        self.bearer_rejections = self._counter(
            "bearer_rejections", "Bearer checks that failed, by error.", "error"
        )
        self.client_cache_loads = Gauge(
            "credgate_client_cache_loads",
            "Client records loaded from the database by this process.",
            registry=self.registry,
        )
        self.changes_applied = self._counter(
            "changes_applied", "Change-log entries applied by this process."
        )
        self.rate_limited = self._counter(
            "rate_limited",
            "Requests answered 429 by a credential's rate limit, by API family.",
            "family",
        )
        self._error_children: dict[str, Any] = {}

    def _counter(self, name: str, documentation: str, *labels: str) -> Counter:
        """The counter ``credgate_<name>`` of this registry, by ``labels``."""
        return Counter(f"credgate_{name}", documentation, labels, registry=self.registry)

    def token_error(self, error: str) -> None:
        child = self._error_children.get(error)
        if child is None:
            child = self._error_children[error] = self.token_errors.labels(error=error)
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
