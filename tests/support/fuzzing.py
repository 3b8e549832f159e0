"""What the schemathesis tests share."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def reproducible(examples: int) -> settings:
    """Hypothesis settings for ``examples`` generated requests an operation, derandomised so
    that CI is reproducible: the same examples every run (to explore further, raise the number
    or drop ``derandomize`` locally). No deadline or health check: a request to a live server
    takes what it takes; no example database: nothing is kept between runs."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
