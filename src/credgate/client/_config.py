"""Where the client connects and how it authenticates.

Two ways to say where the platform is:

- `instance` + `region` + `domain`: the login host is `https://<instance>-login.<region>.<domain>`
  (token endpoint `/oauth2/default/v1/token`) and the API host is
  `https://<instance>.api.<region>.<domain>` (where the legacy `/api/v1/token` also lives).
- `base_url`: one origin (optionally with a path prefix) that serves both, such as a local
  credgate at `http://127.0.0.1:8000`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import httpx

from ._errors import ConfigurationError

__all__ = [
    "DEFAULT_SCOPE",
    "LEGACY_TOKEN_PATH",
    "REGIONS",
    "TOKEN_PATH",
    "ClientConfig",
    "TokenAuthMethod",
]

REGIONS: tuple[str, ...] = ("us", "eu", "pac", "meta")
TOKEN_PATH = "/oauth2/default/v1/token"
LEGACY_TOKEN_PATH = "/api/v1/token"
DEFAULT_SCOPE = "service:integration"

TokenAuthMethod = Literal["client_secret_basic", "client_secret_post"]
_AUTH_METHODS: tuple[str, ...] = ("client_secret_basic", "client_secret_post")

# One DNS label (RFC 1123 section 2.1), lower case.
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# RFC 6749 appendix A.2/A.1: client_id and client_secret are VSCHAR (printable ASCII).
_VSCHAR = re.compile(r"^[\x20-\x7e]+$")


def _require_text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(field, "is required and must be a non-empty string")
    return value


def _check_domain(domain: str) -> str:
    labels = domain.lower().rstrip(".").split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ConfigurationError("domain", f"{domain!r} is not a host name such as 'example.com'")
    return ".".join(labels)


def _check_base_url(base_url: str) -> str:
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ConfigurationError("base_url", f"{base_url!r} is not a URL") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(
            "base_url", f"{base_url!r} must be an http:// or https:// URL with a host"
        )
    if url.query or url.fragment or url.userinfo:
        raise ConfigurationError("base_url", "must not carry credentials, a query or a fragment")
    return str(url).rstrip("/")


@dataclass(frozen=True, slots=True, repr=False)
class ClientConfig:
    """Validated client settings. Every field error raises `ConfigurationError` naming it.

    `client_secret` is masked in `repr()` and never logged.
    """

    client_id: str
    client_secret: str
    base_url: str | None = None
    instance: str | None = None
    region: str | None = None
    domain: str | None = None
    token_path: str = TOKEN_PATH
    scope: str | None = DEFAULT_SCOPE
    token_auth_method: TokenAuthMethod = "client_secret_basic"
    timeout: float = 30.0
    #: The token is renewed this long before it expires (at most a tenth of its lifetime).
    renew_margin: float = 60.0
    #: How many times a 429 is retried (after waiting `Retry-After`) before RateLimitedError.
    max_rate_limit_retries: int = 3
    #: Longest single wait on a 429, whatever `Retry-After` says.
    max_retry_wait: float = 30.0

    def __post_init__(self) -> None:
        client_id = _require_text("client_id", self.client_id)
        secret = _require_text("client_secret", self.client_secret)
        if not _VSCHAR.match(client_id):
            raise ConfigurationError("client_id", "must be printable ASCII")
        if not _VSCHAR.match(secret):
            # Say what is wrong without echoing the value.
            raise ConfigurationError("client_secret", "must be printable ASCII")
        located = self.base_url is not None
        named = any(v is not None for v in (self.instance, self.region, self.domain))
        if located and named:
            raise ConfigurationError(
                "base_url", "give either base_url or instance + region + domain, not both"
            )
        if located:
            object.__setattr__(self, "base_url", _check_base_url(str(self.base_url)))
        elif named:
            self._check_instance_region_domain()
        else:
            raise ConfigurationError(
                "base_url", "is required unless instance, region and domain are given"
            )
        if not isinstance(self.token_path, str) or not self.token_path.startswith("/"):
            raise ConfigurationError(
                "token_path",
                f"{self.token_path!r} must be an absolute path such as {TOKEN_PATH!r} "
                f"or the legacy {LEGACY_TOKEN_PATH!r}",
            )
        if self.scope is not None and not isinstance(self.scope, str):
            raise ConfigurationError("scope", "must be a space-separated string or None")
        if self.token_auth_method not in _AUTH_METHODS:
            raise ConfigurationError(
                "token_auth_method",
                f"{self.token_auth_method!r} is not one of {', '.join(_AUTH_METHODS)}",
            )
        for name, minimum in (("timeout", 0.001), ("renew_margin", 0), ("max_retry_wait", 0)):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < minimum:
                raise ConfigurationError(name, f"{value!r} must be a number >= {minimum}")
        retries = self.max_rate_limit_retries
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ConfigurationError("max_rate_limit_retries", f"{retries!r} must be an int >= 0")

    def _check_instance_region_domain(self) -> None:
        instance = _require_text("instance", self.instance).lower()
        if not _LABEL.match(instance):
            raise ConfigurationError(
                "instance", f"{self.instance!r} must be one DNS label (letters, digits, '-')"
            )
        region = _require_text("region", self.region).lower()
        if region not in REGIONS:
            raise ConfigurationError(
                "region", f"{self.region!r} is not one of {', '.join(REGIONS)}"
            )
        domain = _check_domain(_require_text("domain", self.domain))
        object.__setattr__(self, "instance", instance)
        object.__setattr__(self, "region", region)
        object.__setattr__(self, "domain", domain)

    @property
    def api_url(self) -> str:
        """Origin of the platform APIs (no trailing slash)."""
        if self.base_url is not None:
            return self.base_url
        return f"https://{self.instance}.api.{self.region}.{self.domain}"

    @property
    def login_url(self) -> str:
        """Origin of the login host, where the documented token endpoint lives."""
        if self.base_url is not None:
            return self.base_url
        return f"https://{self.instance}-login.{self.region}.{self.domain}"

    @property
    def token_url(self) -> str:
        """The token endpoint: the legacy path is on the API host, any other on the login host."""
        host = self.api_url if self.token_path == LEGACY_TOKEN_PATH else self.login_url
        return host + self.token_path

    def __repr__(self) -> str:
        where = (
            f"base_url={self.base_url!r}"
            if self.base_url is not None
            else f"instance={self.instance!r}, region={self.region!r}, domain={self.domain!r}"
        )
        return (
            f"ClientConfig({where}, client_id={self.client_id!r}, client_secret='**********', "
            f"token_path={self.token_path!r}, scope={self.scope!r})"
        )
