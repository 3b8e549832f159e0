"""credgate.testing.Sandbox: a throwaway server isolated from the environment, credentials with
the permissions asked for, seeded definitions, clients closed and files removed on stop."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from credgate.client import PermissionDeniedError
from credgate.core.errors import InvalidInputError
from credgate.testing import SAMPLE_DEFINITIONS, Sandbox


def test_sandbox_ignores_credgate_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    production = tmp_path / "production.db"
    monkeypatch.setenv("CREDGATE_DATABASE_URL", f"sqlite:///{production}")
    monkeypatch.setenv("CREDGATE_UPSTREAM_NQL_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CREDGATE_INSTANCE", "acme")
    with Sandbox(settings={"token_ttl_seconds": 60}) as sandbox:
        settings = sandbox.container.settings
        assert settings.upstream_nql_url is None
        assert settings.token_ttl_seconds == 60
        assert settings.issuer == f"{sandbox.url}/oauth2/default"
        assert str(production) not in settings.resolved_database_url
        directory = Path(settings.resolved_database_url.removeprefix("sqlite:///")).parent
        assert directory.is_dir()
        client = sandbox.client(["nql"])
        sandbox.seed()
        assert client.execute_nql("#devices_by_os", {"os": "x"}).rows == 0
    assert not production.exists()
    assert not directory.exists()  # the temporary directory is removed
    with pytest.raises(RuntimeError):
        client.list_workflows()  # closed by stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(sandbox_url := f"{settings.base_url}/healthz", timeout=2)
    assert sandbox_url.startswith("http://127.0.0.1:")


def test_credentials_hold_exactly_the_permissions_asked_for(tmp_path: Path) -> None:
    with Sandbox(directory=tmp_path / "kept") as sandbox:
        sandbox.seed()
        credential = sandbox.create_credential(["workflows"])
        assert "**********" in repr(credential)
        assert credential.client_secret not in repr(credential)
        assert credential.client_secret not in repr(sandbox.config(credential))
        with sandbox.client(["workflows"]) as client:
            assert client.list_workflows()[0].id == "#restart_service"
            with pytest.raises(PermissionDeniedError):
                client.list_remote_actions()
        with sandbox.client() as everything:  # every permission by default
            assert everything.list_remote_actions()[0].id == "#get_disk_space"
        assert sandbox.tokens_issued() == 2
    assert (tmp_path / "kept" / "credgate.db").exists()  # a given directory is kept


def test_seed_is_idempotent_and_definitions_are_checked() -> None:
    with Sandbox() as sandbox:
        made = sandbox.seed()
        assert len(made) == len(SAMPLE_DEFINITIONS)
        assert sandbox.seed() == []
        sandbox.add_workflow(id="#second", name="Second", triggerMethods=["API"])
        sandbox.add_remote_action(id="#ra2", name="RA 2", targeting={"apiEnabled": True})
        sandbox.add_campaign(id="#c2", name="C 2")
        sandbox.add_query(id="#all_devices", object="devices", columns=["name"])
        sandbox.add_enrichment_field(id="user/user/#team")
        with pytest.raises(InvalidInputError) as info:
            sandbox.add_workflow(id="#bad", name="Bad", triggerMethods=["NEVER"])
        assert "triggerMethods" in str([e.field for e in info.value.errors])
        with sandbox.client(["workflows", "nql"]) as client:
            assert sorted(w.id for w in client.list_workflows()) == ["#restart_service", "#second"]
            assert client.execute_nql("#all_devices").rows == 0


def test_a_stopped_sandbox_says_so() -> None:
    sandbox = Sandbox()
    assert repr(sandbox) == "Sandbox(stopped)"
    with pytest.raises(RuntimeError, match="not running"):
        _ = sandbox.url
    sandbox.stop()  # harmless
