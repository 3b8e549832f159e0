"""Settings: every one documented in the README with its default; bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from credgate.core.config import Settings, settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_table_is_current() -> None:
    assert settings_table() in README.read_text(), (
        "README's configuration table is out of date; regenerate it with "
        "`python -c 'from credgate.core.config import settings_table; print(settings_table())'`"
    )


def test_environment_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "credgate.toml"
    config.write_text('port = 9000\naudience = "api://file"\n')
    monkeypatch.setenv("CREDGATE_CONFIG_FILE", str(config))
    monkeypatch.setenv("CREDGATE_AUDIENCE", "api://env")
    settings = Settings()
    assert settings.port == 9000
    assert settings.audience == "api://env"  # the environment wins over the file


def test_documented_host_patterns() -> None:
    settings = Settings(instance="acme", region="eu", domain="example.test")
    assert settings.login_base_url == "https://acme-login.eu.example.test"
    assert settings.api_base_url == "https://acme.api.eu.example.test"
    assert settings.issuer == "https://acme-login.eu.example.test/oauth2/default"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"region": "mars", "instance": "a", "domain": "d"}, "region"),
        ({"port": 0}, "port"),
        ({"instance": "a"}, "instance, region and domain"),
        ({"public_base_url": "ftp://x/y"}, "public_base_url"),
        ({"token_ttl_seconds": 0}, "token_ttl_seconds"),
    ],
)
def test_bad_values_are_named(values: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(**values)
    assert field in str(info.value)


def test_secret_settings_are_hidden_in_repr() -> None:
    settings = Settings(
        pepper="cGVwcGVycGVwcGVycGVwcGVycGVwcGVycGVwcGVycGVw", admin_password="hunter2hunter2"
    )
    assert "hunter2" not in repr(settings)
    assert "cGVwcGVy" not in repr(settings)
