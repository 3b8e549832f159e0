"""Feature commands get their services built one by one, as they ask, not the whole container."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from credgate.cli import app
from credgate.cli_installation import _FACTORIES, CommandServices, open_services

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("CREDGATE_"):
            monkeypatch.delenv(name)
    env = {"CREDGATE_DATA_DIR": str(tmp_path / "var"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    return env


def _type(name: str) -> type[object]:
    module, _, qualname = name.rpartition(".")
    kind: type[object] = getattr(importlib.import_module(module), qualname)
    return kind


def test_each_service_a_command_asks_for_is_built_alone(instance: dict[str, str]) -> None:
    with open_services() as services:
        assert isinstance(services, CommandServices)
        for name in _FACTORIES:
            kind = _type(name)
            built = services.get(kind)
            assert isinstance(built, kind), name
            assert services.get(kind) is built, "built once per command"
        assert services._container is None, "no service here needs the container"


def test_other_services_come_from_a_container_over_the_same_database(
    instance: dict[str, str],
) -> None:
    from credgate.outbound.webhooks import WebhookService

    with open_services() as services:
        assert isinstance(services, CommandServices)
        webhooks = services.get(WebhookService)
        container = services.container()
        assert webhooks is container.outbound.webhooks
        assert container.db is services.db
        heard: list[tuple[str, str]] = []
        container.feed.subscribe(lambda kind, key: heard.append((kind, key)))
        services.feed.notify_local("connector_credential", "c1")
        assert heard == [("connector_credential", "c1")], "changes reach the container's caches"


def test_a_list_command_imports_neither_the_container_nor_the_web_framework(
    instance: dict[str, str],
) -> None:
    created = CliRunner().invoke(
        app, ["api-credentials", "create", "--name", "Importer", "-p", "workflows"]
    )
    assert created.exit_code == 0, created.output
    env = {**os.environ, **instance, "PYTHONPATH": SRC}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "credgate", "api-credentials", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Importer" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    for heavy in (
        "credgate.container",
        "fastapi",
        "asyncssh",
        "credgate.outbound.worker",
        "limits",
    ):
        assert heavy not in imported, f"{heavy} was imported"
    assert "credgate.apicredentials.services" in imported


def test_a_missing_signing_key_is_one_line_for_the_commands_that_need_it(
    instance: dict[str, str],
) -> None:
    import sqlite3

    database = Path(instance["CREDGATE_DATA_DIR"]) / "credgate.db"
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM signing_keys")
    connection.close()
    keys = CliRunner().invoke(app, ["keys", "list"])
    assert keys.exit_code == 2, keys.output
    assert keys.stderr.strip() == (
        "error: no active signing key: run `credgate init` or `credgate keys rotate`"
    )
    hooks = CliRunner().invoke(app, ["webhooks", "list"])
    assert hooks.exit_code == 2, hooks.output
    assert len(hooks.stderr.strip().splitlines()) == 1
    listed = CliRunner().invoke(app, ["api-credentials", "list"])
    assert listed.exit_code == 0, "listing credentials needs no signing key"
