"""ClientConfig: hosts built from instance/region/domain or one base URL, and clear errors."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

import credgate.client
from credgate.client import (
    LEGACY_TOKEN_PATH,
    AsyncClient,
    Client,
    ClientConfig,
    ConfigurationError,
    CredgateAuth,
)

SECRET = "cgs_topsecret-value_0123456789"


def named(**overrides: object) -> ClientConfig:
    options: dict[str, object] = {
        "instance": "acme",
        "region": "eu",
        "domain": "example.cloud",
        "client_id": "client-1",
        "client_secret": SECRET,
    }
    options.update(overrides)
    return ClientConfig(**options)  # type: ignore[arg-type]


def test_instance_region_domain_builds_login_and_api_hosts() -> None:
    config = named()
    assert config.login_url == "https://acme-login.eu.example.cloud"
    assert config.api_url == "https://acme.api.eu.example.cloud"
    assert config.token_url == "https://acme-login.eu.example.cloud/oauth2/default/v1/token"
    assert config.scope == "service:integration"
    assert config.token_auth_method == "client_secret_basic"


@pytest.mark.parametrize("region", ["us", "eu", "pac", "meta", "EU"])
def test_every_documented_region_is_accepted(region: str) -> None:
    config = named(region=region, instance="Acme")
    assert config.api_url == f"https://acme.api.{region.lower()}.example.cloud"


def test_legacy_token_path_lives_on_the_api_host() -> None:
    config = named(token_path=LEGACY_TOKEN_PATH)
    assert config.token_url == "https://acme.api.eu.example.cloud/api/v1/token"


def test_base_url_serves_both_and_keeps_a_path_prefix() -> None:
    config = ClientConfig(
        base_url="http://127.0.0.1:8000/gate/", client_id="c", client_secret=SECRET
    )
    assert config.api_url == config.login_url == "http://127.0.0.1:8000/gate"
    assert config.token_url == "http://127.0.0.1:8000/gate/oauth2/default/v1/token"
    legacy = ClientConfig(
        base_url="http://127.0.0.1:8000",
        client_id="c",
        client_secret=SECRET,
        token_path=LEGACY_TOKEN_PATH,
    )
    assert legacy.token_url == "http://127.0.0.1:8000/api/v1/token"


def test_bad_region_names_the_allowed_ones() -> None:
    with pytest.raises(ConfigurationError) as info:
        named(region="asia")
    assert info.value.field == "region"
    assert "'asia'" in str(info.value)
    assert "us, eu, pac, meta" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"instance": "acme corp"}, "instance"),
        ({"instance": ""}, "instance"),
        ({"domain": "not a domain"}, "domain"),
        ({"domain": "localhost"}, "domain"),
        ({"domain": None}, "domain"),
        ({"client_id": ""}, "client_id"),
        ({"client_secret": ""}, "client_secret"),
        ({"client_secret": "tab\tinside"}, "client_secret"),
        ({"token_path": "oauth2/token"}, "token_path"),
        ({"token_auth_method": "private_key_jwt"}, "token_auth_method"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"max_rate_limit_retries": -1}, "max_rate_limit_retries"),
        ({"base_url": "http://127.0.0.1"}, "base_url"),
    ],
)
def test_bad_settings_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        named(**overrides)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}:")


@pytest.mark.parametrize(
    "base_url", ["ftp://host", "127.0.0.1:8000", "http://u:p@host", "http://host/?a=1", "http://"]
)
def test_bad_base_url_is_refused(base_url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ClientConfig(base_url=base_url, client_id="c", client_secret=SECRET)
    assert info.value.field == "base_url"


def test_neither_base_url_nor_instance_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="base_url: is required"):
        ClientConfig(client_id="c", client_secret=SECRET)


def test_a_bad_secret_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as info:
        named(client_secret="secret\nvalue")
    assert "secret\nvalue" not in str(info.value)


def test_secret_is_masked_in_every_repr() -> None:
    config = named()
    client = Client(config)
    async_client = AsyncClient(config)
    try:
        auth = CredgateAuth(config)
        for text in (
            repr(config),
            str(config),
            repr(client),
            repr(async_client),
            repr(auth),
            repr(auth.flow),
        ):
            assert SECRET not in text
            assert "client-1" in text
            assert "**********" in text
    finally:
        client.close()
        asyncio.run(async_client.aclose())


def test_public_names() -> None:
    assert sorted(credgate.client.__all__) == sorted(
        [
            "DEFAULT_SCOPE",
            "LEGACY_TOKEN_PATH",
            "REGIONS",
            "TOKEN_PATH",
            "APIError",
            "AsyncClient",
            "AuditLogEntry",
            "AuditLogPage",
            "AuditScope",
            "AuthenticationError",
            "CampaignRequest",
            "CampaignTriggerResult",
            "Client",
            "ClientConfig",
            "Compression",
            "ConfigurationError",
            "CredgateAuth",
            "CredgateError",
            "DeletionDevice",
            "Dependency",
            "DeviceDeletion",
            "DeviceDeletionResult",
            "Engine",
            "EngineStatus",
            "Enrichment",
            "EnrichmentError",
            "EnrichmentErrorDetail",
            "EnrichmentField",
            "EnrichmentResult",
            "NeedToken",
            "NotFoundError",
            "NqlDateTime",
            "NqlExport",
            "NqlExportStatus",
            "NqlResult",
            "NqlResultV2",
            "NxqlFormat",
            "NxqlPlatform",
            "NxqlResult",
            "PermissionDeniedError",
            "RateLimitedError",
            "RemoteAction",
            "RemoteActionExecution",
            "RemoteActionScriptInfo",
            "RemoteActionTargeting",
            "ServerError",
            "Sleep",
            "SparkFile",
            "SparkPart",
            "SparkText",
            "TokenAuthMethod",
            "TokenError",
            "TokenFlow",
            "TransportError",
            "TriggerInfo",
            "TriggerMethod",
            "ValidationError",
            "Workflow",
            "WorkflowDevice",
            "WorkflowExecution",
            "WorkflowUser",
        ]
    )
    for name in credgate.client.__all__:
        assert hasattr(credgate.client, name), name


def test_imports_without_the_server_dependencies() -> None:
    """Only httpx, pydantic and the standard library: server packages are made unimportable."""
    src = Path(credgate.client.__file__).parents[2]
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        top = name.partition('.')[0]\n"
        "        if top in {'pydantic_settings', 'starlette', 'fastapi',\n"
        "                   'sqlalchemy', 'uvicorn', 'joserfc', 'cryptography', 'authlib',\n"
        "                   'asyncssh', 'jinja2', 'typer', 'rich', 'alembic', 'psycopg'}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import credgate.client\n"
        "print(len(credgate.client.__all__))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    result = subprocess.run(
        [sys.executable, "-c", blocker], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(credgate.client.__all__)
