"""Settings, read from ``CREDGATE_*`` environment variables and an optional TOML file.

Precedence, highest first: keyword arguments, environment variables, the instance's
``credgate.toml`` (see :func:`locate_instance`), then the defaults below. Every field is
documented in the README's configuration table, which a test keeps in step with this class.

One installation has one *home*, found the same way from any current directory, so that a
command run elsewhere acts on the same instance instead of starting an empty one. A relative
``data_dir`` is taken relative to that home.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from credgate.core.destinations import DestinationPolicy
from credgate.core.permissions import CATALOGUE
from credgate.core.proxies import Network, parse_trusted_proxies
from credgate.core.ratelimits import check_limit
from credgate.core.suggest import did_you_mean

__all__ = [
    "CONFIG_NAME",
    "REGIONS",
    "ConfigurationError",
    "InstanceLocation",
    "Settings",
    "load_settings",
    "locate_instance",
    "settings_table",
    "user_config_file",
]

REGIONS = ("us", "eu", "pac", "meta")
_INSTANCE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
CONFIG_NAME = "credgate.toml"


class ConfigurationError(Exception):
    """A configuration file that cannot be used: missing, unreadable or not valid TOML."""


@dataclass(frozen=True, slots=True)
class InstanceLocation:
    """Where the installation lives and how that was decided."""

    home: Path
    config_file: Path | None
    source: str  # says, for `credgate info` and errors, how the home was found


def user_config_file() -> Path:
    """The user's default instance: ``$XDG_CONFIG_HOME/credgate/credgate.toml``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "credgate" / CONFIG_NAME


def locate_instance(cwd: Path | None = None) -> InstanceLocation:
    """The instance's home and configuration file, first match wins:

    1. ``CREDGATE_CONFIG_FILE``: that file (it must exist); the home is its directory.
    2. ``CREDGATE_HOME``: that directory, and its ``credgate.toml`` when there is one.
    3. ``credgate.toml`` in the current directory or the nearest parent holding one.
    4. The user's ``~/.config/credgate/credgate.toml`` (``$XDG_CONFIG_HOME``).
    5. None found: the current directory (``credgate init`` then writes a ``credgate.toml``).
    """
    here = (cwd or Path.cwd()).resolve()
    named = os.environ.get("CREDGATE_CONFIG_FILE")
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigurationError(f"CREDGATE_CONFIG_FILE: no such file: {path}")
        path = path.resolve()
        return InstanceLocation(path.parent, path, "CREDGATE_CONFIG_FILE")
    home_env = os.environ.get("CREDGATE_HOME")
    if home_env:
        home = Path(home_env).expanduser().resolve()
        if home.exists() and not home.is_dir():
            raise ConfigurationError(f"CREDGATE_HOME: not a directory: {home}")
        file = home / CONFIG_NAME
        return InstanceLocation(home, file if file.is_file() else None, "CREDGATE_HOME")
    for directory in (here, *here.parents):
        file = directory / CONFIG_NAME
        if file.is_file():
            return InstanceLocation(directory, file, f"{CONFIG_NAME} found from {here}")
    user_file = user_config_file()
    if user_file.is_file():
        return InstanceLocation(user_file.parent, user_file, "the user's default instance")
    return InstanceLocation(here, None, "the current directory (no credgate.toml found)")


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's settings; a syntax error becomes one line naming the file and the line."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise ConfigurationError(
            f"{path}: unknown setting {unknown[0]!r}{did_you_mean(unknown[0], Settings.model_fields)}"
        )
    return data


def _http_url(value: str | None, problem: str) -> str | None:
    """An http(s) base URL without its trailing slash; empty is none; anything else fails."""
    if value is None or value == "":
        return None
    if not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", value):
        raise ValueError(problem)
    return value.rstrip("/")


def _family_limit(api: str) -> Any:
    """The setting of one API family's rate limit."""
    return Field(
        None,
        description=f"Rate limit per API credential of the {api}, e.g. `60/minute`. "
        "Empty: `CREDGATE_RATE_LIMIT_DEFAULT`.",
    )


def _upstream(api: str) -> Any:
    """The setting of one API family's upstream."""
    return Field(None, description=f"Upstream base URL the {api} forwards to (empty: built-in).")


def _check_upstream(value: str | None) -> str | None:
    return _http_url(value, "an upstream URL must look like https://host[:port][/path]")


_RateLimit = Annotated[str | None, AfterValidator(check_limit)]
_UpstreamUrl = Annotated[str | None, AfterValidator(_check_upstream)]


class Settings(BaseSettings):
    """credgate's settings. Field descriptions are the documentation."""

    model_config = SettingsConfigDict(
        env_prefix="CREDGATE_",
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
    )

    home: Path | None = Field(
        None,
        description="The instance's home: its `credgate.toml` is read from it and a relative "
        "data directory is under it. Empty: found as the README's *One instance home* says.",
    )
    data_dir: Path = Field(
        Path("var"),
        description="Directory for the SQLite file, key files and exports (relative: under the "
        "home).",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL. Empty means SQLite at `<data_dir>/credgate.db`. "
        "PostgreSQL: `postgresql+psycopg://user@host/db`.",
    )
    host: str = Field("127.0.0.1", description="Address `credgate serve` listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port `credgate serve` listens on.")
    workers: int = Field(1, ge=1, le=64, description="Worker processes for `credgate serve`.")
    public_base_url: str | None = Field(
        None,
        description="External base URL (scheme://host[:port]) when behind a load balancer. "
        "Empty means `http://<host>:<port>`.",
    )
    instance: str | None = Field(
        None, description="Instance name for the documented host patterns."
    )
    region: Literal["us", "eu", "pac", "meta"] | None = Field(
        None, description="Region for the documented host patterns (us, eu, pac, meta)."
    )
    domain: str | None = Field(None, description="Domain for the documented host patterns.")
    audience: str = Field("api://default", description="`aud` claim of access tokens.")
    token_ttl_seconds: int = Field(
        900, ge=1, le=86400, description="Access-token lifetime in seconds."
    )
    token_leeway_seconds: int = Field(
        30,
        ge=0,
        le=300,
        description="Clock skew tolerated when checking `exp`/`iat` of bearer tokens.",
    )
    master_key: SecretStr | None = Field(
        None,
        description="Master keys for the vault, `VERSION:BASE64` comma-separated, newest used for "
        "encryption. Empty means the file `<data_dir>/master.key`.",
    )
    pepper: SecretStr | None = Field(
        None,
        description="Server-side pepper for secret hashes (base64, 32 bytes). Empty means the file "
        "`<data_dir>/pepper.key`.",
    )
    admin_username: str = Field(
        "admin", min_length=1, max_length=100, description="First administrator's name."
    )
    admin_password: SecretStr | None = Field(
        None,
        description="First administrator's password. Empty means one is generated and printed once.",
    )
    admin_token_default_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Lifetime in days of a new admin API token when none is asked for.",
    )
    admin_token_max_days: int = Field(
        365,
        ge=1,
        le=3650,
        description="Longest lifetime in days an admin API token may be given.",
    )
    key_rotation_days: int = Field(
        0,
        ge=0,
        le=3650,
        description="Rotate the signing key automatically after this many days (0: only on command).",
    )
    sync_interval_seconds: float = Field(
        1.0,
        gt=0,
        le=5,
        description="How often each node reads the change log (revocations, deleted clients, keys).",
    )
    max_form_bytes: int = Field(
        8192,
        ge=512,
        le=1_048_576,
        description="Largest body of a request whose body is the credential: the token, "
        "introspection and revocation endpoints and both sign-in forms.",
    )
    max_admin_api_bytes: int = Field(
        1_048_576,
        ge=1024,
        le=64 * 1_048_576,
        description="Largest body of an admin REST API request (`/admin/api/`).",
    )
    max_admin_form_bytes: int = Field(
        262_144,
        ge=1024,
        le=64 * 1_048_576,
        description="Largest form posted to the administration pages (`/admin/`).",
    )
    max_platform_api_bytes: int = Field(
        33_554_432,
        ge=1024,
        le=1024 * 1_048_576,
        description="Largest body of a platform API request (`/api/v1/`, `/api/v2/`).",
    )
    max_body_bytes: int = Field(
        65_536,
        ge=0,
        le=64 * 1_048_576,
        description="Largest body of any other request (classic APIs, forward-auth, ...).",
    )
    auth_failure_limit: int = Field(
        10,
        ge=1,
        le=10000,
        description="Failed authentications per window before 429, counted per network (an IPv4 "
        "address, an IPv6 /64) and per client id.",
    )
    auth_failure_slowdown_after: int = Field(
        3,
        ge=0,
        le=10000,
        description="Failures after which each further failure answers more slowly.",
    )
    auth_failure_window_seconds: int = Field(
        60, ge=1, le=86400, description="Window for counting failures."
    )
    auth_lockout_seconds: int = Field(
        300, ge=1, le=86400, description="How long a key stays refused (Retry-After)."
    )
    auth_account_failure_limit: int = Field(
        30,
        ge=1,
        le=100000,
        description="Failed password sign-ins per account window, counted per account and "
        "network, and per account from all its unfamiliar networks together; at the limit that "
        "network, or every unfamiliar one, is refused for one account window.",
    )
    auth_account_window_seconds: int = Field(
        3600,
        ge=60,
        le=604800,
        description="Window for counting an account's failed password sign-ins.",
    )
    auth_familiar_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="Days a network stays familiar to an account after its last successful "
        "sign-in.",
    )
    # Outbound connectors: webhook delivery policy, the outbound worker, exporters.
    webhook_max_attempts: int = Field(
        8, ge=1, le=100, description="Attempts per webhook delivery before it is marked failed."
    )
    webhook_backoff_base_seconds: float = Field(
        5.0, gt=0, le=3600, description="First retry delay; doubles per attempt, with jitter."
    )
    webhook_backoff_max_seconds: float = Field(
        3600.0, gt=0, le=86400, description="Longest retry delay (also caps Retry-After)."
    )
    webhook_timeout_seconds: float = Field(
        15.0, gt=0, le=300, description="How long one webhook request may take."
    )
    worker_in_serve: bool = Field(
        True,
        description="Run the outbound worker inside `credgate serve` (else: `credgate worker`).",
    )
    worker_batch_size: int = Field(
        20, ge=1, le=1000, description="Deliveries one worker claims and sends at a time."
    )
    worker_poll_interval_seconds: float = Field(
        1.0, gt=0, le=60, description="How often an idle outbound worker looks for due work."
    )
    worker_lease_seconds: float = Field(
        60.0, ge=1, le=3600, description="How long a claimed delivery stays with its worker."
    )
    exporter_max_rows: int = Field(
        1_000_000, ge=1, le=100_000_000, description="Most rows one exporter run sends."
    )
    # NoDecode: the documented form is comma-separated, which is not JSON; the validator
    # below reads both.
    trusted_proxies: Annotated[list[Network], NoDecode] = Field(
        default_factory=list,
        description="Proxies whose X-Forwarded-For is believed: addresses or CIDR networks, "
        "comma-separated (or a JSON list).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level."
    )
    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        description="Log format: `text` for people, `json` for collectors, `auto`: text on a "
        "terminal, JSON otherwise.",
    )
    upstream_workflows_url: _UpstreamUrl = _upstream("Workflows API")
    upstream_remote_actions_url: _UpstreamUrl = _upstream("Remote Actions API")
    upstream_nql_url: _UpstreamUrl = _upstream("NQL API")
    upstream_enrichment_url: _UpstreamUrl = _upstream("Enrichment API")
    upstream_campaigns_url: _UpstreamUrl = _upstream("Campaigns API")
    upstream_spark_url: _UpstreamUrl = _upstream("Spark API")
    upstream_data_management_url: _UpstreamUrl = _upstream("Data management API")
    upstream_timeout_seconds: float = Field(
        30, gt=0, le=300, description="Timeout of a request forwarded to an upstream."
    )
    classic_basic_auth: bool = Field(
        True,
        description="Accept HTTP Basic with a classic user account on the classic APIs (NXQL, "
        "engines, audit trail). When off, Basic requests get 401; classic OAuth tokens still work.",
    )
    outbound_ca_bundle: Path | None = Field(
        None,
        description="PEM file of CA certificates that outbound HTTPS (connector tests, webhooks, exporters) trusts instead of the system store (a private CA). TLS verification is always on.",
    )
    outbound_connect_timeout_seconds: float = Field(
        5, gt=0, le=120, description="Outbound HTTPS: time to connect to a connector's host."
    )
    outbound_read_timeout_seconds: float = Field(
        30, gt=0, le=600, description="Outbound HTTPS: time to wait for each read or write."
    )
    # NoDecode: the environment gives a comma-separated list, not JSON.
    outbound_allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Non-public destinations that outbound connections (connector URLs, token endpoints and SFTP hosts, for webhooks, exporters and Test) may reach, comma-separated: networks (`10.0.0.0/8`), addresses (`192.168.1.5`) or host names. Empty: public addresses only; loopback, link-local, private and reserved ranges are refused (see docs/security.md).",
    )
    # Rate limits per API credential and family (core/ratelimits.py, docs/ratelimits.md).
    redis_url: SecretStr | None = Field(
        None,
        description="Redis URL (`redis://host:6379/0`, `rediss://...`) where every node counts rate limits together. Empty: each process counts in its own memory.",
    )
    rate_limit_key_prefix: str = Field(
        "credgate",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Prefix of the rate-limit keys in Redis (installations sharing one Redis need different ones).",
    )
    rate_limit_default: _RateLimit = Field(
        None,
        description="Requests one API credential may make to each API family, e.g. `600/minute` (moving window), where the family and the credential set none. Empty: no limit.",
    )
    rate_limit_workflows: _RateLimit = _family_limit("Workflows API")
    rate_limit_remote_actions: _RateLimit = _family_limit("Remote Actions API")
    rate_limit_nql: _RateLimit = _family_limit("NQL API (and the classic NXQL `/2/query`)")
    rate_limit_enrichment: _RateLimit = _family_limit("Enrichment API")
    rate_limit_campaigns: _RateLimit = _family_limit("Campaigns API")
    rate_limit_spark: _RateLimit = _family_limit("Spark API")
    rate_limit_data_management: _RateLimit = _family_limit("Data management API")
    rate_limit_engines: _RateLimit = _family_limit("classic Engines API")
    rate_limit_audit_trail: _RateLimit = _family_limit("classic Audit trail API")
    admin_api_url: str | None = Field(
        None,
        description="Base URL of the running credgate (e.g. `http://127.0.0.1:8080`) whose admin "
        "API the commands that reach third parties (`connector-credentials test`, `webhooks "
        "test`, `exporters run`) go through, so they use the server's network and CA bundle. "
        "Empty: they run in the command's own process.",
    )
    admin_api_token: SecretStr | None = Field(
        None,
        description="Admin API token (`credgate admins token`) those commands send to "
        "`CREDGATE_ADMIN_API_URL`.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        location = locate_instance()
        if location.config_file is not None:
            read_config_file(location.config_file)  # one-line errors before pydantic's own
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=location.config_file))
        sources.append(InitSettingsSource(settings_cls, init_kwargs={"home": location.home}))
        return tuple(sources)

    @field_validator("data_dir")
    @classmethod
    def _under_home(cls, value: Path, info: ValidationInfo) -> Path:
        home = info.data.get("home")
        value = value.expanduser()
        return value if value.is_absolute() or home is None else Path(home) / value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: Any) -> list[Network]:
        return parse_trusted_proxies(value)

    @field_validator("outbound_allowed_networks", mode="before")
    @classmethod
    def _split_allowed_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("outbound_allowed_networks")
    @classmethod
    def _check_allowed_networks(cls, value: list[str]) -> list[str]:
        DestinationPolicy.from_entries(value)  # a ValueError names the bad entry
        return [part.strip() for part in value if part.strip()]

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        # A secret: the URL may hold the Redis password, so it is never shown or logged.
        url = value.get_secret_value().strip() if value is not None else ""
        if not url:
            return None
        if not re.match(r"^(redis|rediss|redis\+unix)://\S+$", url):
            raise ValueError("a Redis URL starts with redis://, rediss:// or redis+unix://")
        return SecretStr(url)

    @field_validator("instance")
    @classmethod
    def _check_instance(cls, value: str | None) -> str | None:
        if value is not None and not _INSTANCE_RE.match(value):
            raise ValueError("instance must be a DNS label: lowercase letters, digits and '-'")
        return value

    @field_validator("admin_api_url")
    @classmethod
    def _check_admin_api_url(cls, value: str | None) -> str | None:
        return _http_url(value, "admin_api_url must look like http://host[:port]")

    @model_validator(mode="after")
    def _check_admin_api(self) -> Settings:
        if self.admin_api_url and self.admin_api_token is None:
            raise ValueError(
                "admin_api_url needs admin_api_token (create one with `credgate admins token`)"
            )
        return self

    @field_validator("public_base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not re.match(r"^https?://[^/?#\s]+$", value.rstrip("/")):
            raise ValueError("public_base_url must look like https://host[:port], without a path")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_hosts(self) -> Settings:
        given = [self.instance is not None, self.region is not None, self.domain is not None]
        if any(given) and not all(given):
            raise ValueError("instance, region and domain go together: set all three or none")
        return self

    @model_validator(mode="after")
    def _check_admin_token_days(self) -> Settings:
        if self.admin_token_default_days > self.admin_token_max_days:
            raise ValueError("admin_token_default_days must not exceed admin_token_max_days")
        return self

    # Derived values -------------------------------------------------------------------------

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'credgate.db').resolve()}"

    @cached_property
    def rate_limits(self) -> dict[str, str | None]:
        """Each API family's rate-limit setting, by its permission id (``data-management``)."""
        return {p.id: getattr(self, f"rate_limit_{p.id.replace('-', '_')}") for p in CATALOGUE}

    @cached_property
    def outbound_destinations(self) -> DestinationPolicy:
        """Where outbound connections may go: public addresses and the allowed networks."""
        return DestinationPolicy.from_entries(self.outbound_allowed_networks)

    @cached_property
    def base_url(self) -> str:
        """Where this node is reached when no documented host pattern is configured."""
        if self.public_base_url:
            return self.public_base_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @cached_property
    def login_base_url(self) -> str:
        """`https://<instance>-login.<region>.<domain>`, or the plain base URL."""
        if self.instance and self.region and self.domain:
            return f"https://{self.instance}-login.{self.region}.{self.domain}"
        return self.base_url

    @cached_property
    def api_base_url(self) -> str:
        """`https://<instance>.api.<region>.<domain>`, or the plain base URL."""
        if self.instance and self.region and self.domain:
            return f"https://{self.instance}.api.{self.region}.{self.domain}"
        return self.base_url

    @cached_property
    def secure_cookies(self) -> bool:
        """Whether clients reach credgate over https, so its cookies must be ``Secure``.

        True for an https public base URL and for the documented host patterns, which are
        always https.
        """
        return any(
            url.startswith("https://")
            for url in (self.base_url, self.login_base_url, self.api_base_url)
        )

    @cached_property
    def issuer(self) -> str:
        return f"{self.login_base_url}/oauth2/default"


def load_settings(**overrides: Any) -> Settings:
    """Read settings; raise ``pydantic.ValidationError`` naming each bad ``CREDGATE_*`` value."""
    return Settings(**overrides)


def settings_table() -> str:
    """The README's configuration table, generated from :class:`Settings` (a test compares)."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default: Any = field.get_default(call_default_factory=True)
        if isinstance(default, Path):
            shown = f"`{default}`"
        elif default is None or default == []:
            shown = "(empty)"
        elif isinstance(default, bool):
            shown = f"`{str(default).lower()}`"
        else:
            shown = f"`{default}`"
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `CREDGATE_{name.upper()}` | {shown} | {description} |")
    return "\n".join(rows)
