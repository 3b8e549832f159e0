"""`credgate token` and `credgate call` against a real credgate: tokens the way an integration
gets them, claims decoded, calls with automatic token handling, and no secret ever printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from credgate.cli import app
from credgate.testing import Sandbox, SandboxCredential


@pytest.fixture(scope="module")
def credential(sandbox: Sandbox) -> SandboxCredential:
    return sandbox.create_credential(["workflows", "enrichment"])


@pytest.fixture
def runner(
    sandbox: Sandbox, credential: SandboxCredential, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    for name in ("CREDGATE_INSTANCE", "CREDGATE_REGION", "CREDGATE_DOMAIN", "CREDGATE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CREDGATE_CLIENT_SECRET", credential.client_secret)
    return CliRunner()


def _base(sandbox: Sandbox, credential: SandboxCredential) -> list[str]:
    return ["--base-url", sandbox.url, "--client-id", credential.client_id]


def test_token_prints_a_token_that_the_api_accepts(
    runner: CliRunner, sandbox: Sandbox, credential: SandboxCredential
) -> None:
    result = runner.invoke(app, ["token", *_base(sandbox, credential)])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert sandbox.container.verifier.verify(token).client_id == credential.client_id
    assert credential.client_secret not in result.output


@pytest.mark.parametrize("legacy", [False, True])
def test_token_claims(
    runner: CliRunner, sandbox: Sandbox, credential: SandboxCredential, legacy: bool
) -> None:
    args = ["token", *_base(sandbox, credential), "--claims"] + (["--legacy"] if legacy else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    claims = json.loads(result.stdout)
    assert claims["client_id"] == credential.client_id
    assert claims["iss"] == f"{sandbox.url}/oauth2/default"
    assert set(claims["scope"].split()) >= {"workflows", "enrichment"}


def test_token_secret_from_the_prompt_is_not_echoed(
    sandbox: Sandbox, credential: SandboxCredential, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDGATE_CLIENT_SECRET", raising=False)
    result = CliRunner().invoke(
        app, ["token", *_base(sandbox, credential)], input=credential.client_secret + "\n"
    )
    assert result.exit_code == 0, result.output
    assert "Client secret" in result.output
    assert credential.client_secret not in result.output


def test_token_wrong_secret_fails_without_echoing_it(
    sandbox: Sandbox, credential: SandboxCredential
) -> None:
    wrong = "wrong-" + credential.client_secret
    result = CliRunner().invoke(
        app, ["token", *_base(sandbox, credential), "--client-secret", wrong]
    )
    assert result.exit_code == 1
    assert "invalid_client" in result.output
    assert wrong not in result.output
    assert credential.client_secret not in result.output


def test_token_bad_location_names_the_option(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["token", "--client-id", "x", "--instance", "acme", "--region", "mars"]
    )
    assert result.exit_code == 2
    assert "--region" in result.output


def test_token_instance_region_domain_builds_the_login_host(runner: CliRunner) -> None:
    # Nothing listens on this name: the error shows where the SDK went, never the secret.
    result = runner.invoke(
        app,
        [
            "token",
            "--client-id",
            "x",
            "--instance",
            "acme",
            "--region",
            "eu",
            "--domain",
            "credgate.invalid",
        ],
    )
    assert result.exit_code == 1
    assert "https://acme-login.eu.credgate.invalid/oauth2/default/v1/token" in result.output


def test_call_get_and_post_with_file_and_header(
    runner: CliRunner,
    sandbox: Sandbox,
    credential: SandboxCredential,
    tmp_path: Path,
) -> None:
    listed = runner.invoke(app, ["call", "GET", "/api/v1/workflows", *_base(sandbox, credential)])
    assert listed.exit_code == 0, listed.output
    status, _, body = listed.stdout.partition("\n")
    assert status == "HTTP 200 OK"
    assert json.loads(body)[0]["id"] == "#restart_service"

    payload = tmp_path / "enrich.json"
    payload.write_text(
        json.dumps(
            {
                "domain": "cli",
                "enrichments": [
                    {
                        "identification": [{"name": "device/device/name", "value": "pc-9"}],
                        "fields": [{"name": "device/device/#os", "value": "macOS"}],
                    }
                ],
            }
        )
    )
    posted = runner.invoke(
        app,
        [
            "call",
            "post",
            "/api/v1/enrichment/data/fields",
            "--data",
            f"@{payload}",
            "--header",
            "X-Request-Id: cli-1",
            *_base(sandbox, credential),
        ],
    )
    assert posted.exit_code == 0, posted.output
    assert posted.stdout.startswith("HTTP 200")
    assert json.loads(posted.stdout.partition("\n")[2]) == {"status": "success"}


def test_call_error_status_is_printed_and_exits_1(
    runner: CliRunner, sandbox: Sandbox, credential: SandboxCredential
) -> None:
    refused = runner.invoke(
        app,
        [
            "call",
            "POST",
            "/api/v1/nql/execute",
            "--data",
            '{"queryId": "#devices_by_os"}',
            *_base(sandbox, credential),
        ],
    )
    assert refused.exit_code == 1
    assert refused.stdout.startswith("HTTP 403")
    assert credential.client_secret not in refused.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--data", "{not json"], "--data"),
        (["--data", "@/nonexistent/body.json"], "--data"),
        (["--header", "no-colon"], "--header"),
    ],
)
def test_call_bad_input_names_the_option(
    runner: CliRunner,
    sandbox: Sandbox,
    credential: SandboxCredential,
    args: list[str],
    named: str,
) -> None:
    result = runner.invoke(
        app, ["call", "POST", "/api/v1/workflows/execute", *args, *_base(sandbox, credential)]
    )
    assert result.exit_code == 2
    assert named in result.output


def test_call_refuses_an_absolute_url(
    runner: CliRunner, sandbox: Sandbox, credential: SandboxCredential
) -> None:
    result = runner.invoke(
        app, ["call", "GET", "https://elsewhere.example/steal", *_base(sandbox, credential)]
    )
    assert result.exit_code == 2
    assert "must be a path on the API host" in result.output


@pytest.mark.parametrize("command", ["token", "call"])
def test_help_does_not_show_the_secret_from_the_environment(
    runner: CliRunner, credential: SandboxCredential, command: str
) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "CREDGATE_CLIENT_SECRET" in result.output
    assert credential.client_secret not in result.output
