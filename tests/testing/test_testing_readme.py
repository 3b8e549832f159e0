"""The README's "Python SDK" examples run as written against a credgate.testing server: each
python block in order, in one namespace, and the pytest example called with the real fixture."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from credgate.client import Client
from credgate.testing import Sandbox

README = Path(__file__).resolve().parents[2] / "README.md"
PLACEHOLDER_URL = "http://127.0.0.1:8080"


def sdk_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Python SDK\n")
    end = text.index("\n## ", start + 1)
    assert text[end:].startswith("\n## Security")
    return text[start:end]


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", sdk_section(), flags=re.DOTALL)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as server:
        server.seed()
        yield server


def test_the_section_has_examples() -> None:
    blocks = python_blocks()
    assert len(blocks) >= 4
    assert all(PLACEHOLDER_URL in b or "config" in b or "credgate_client" in b for b in blocks)
    assert "credgate token" in sdk_section()
    assert "credgate call" in sdk_section()


def test_the_examples_run_against_a_real_credgate(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    credential = sandbox.create_credential(["workflows", "campaigns", "enrichment", "nql"])
    monkeypatch.setenv("CREDGATE_CLIENT_ID", credential.client_id)
    monkeypatch.setenv("CREDGATE_CLIENT_SECRET", credential.client_secret)
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    for number, block in enumerate(python_blocks(), 1):
        code = compile(
            block.replace(PLACEHOLDER_URL, sandbox.url), f"README block {number}", "exec"
        )
        exec(code, namespace)  # noqa: S102 - the README's own examples, run on purpose

    made: list[Client] = []

    def credgate_client(permissions: list[str] | None = None, **options: Any) -> Client:
        made.append(sandbox.client(permissions, **options))
        return made[-1]

    tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
    assert tests, "the pytest example defines a test"
    for test in tests:
        test(credgate_client)

    out = capsys.readouterr().out
    assert "#restart_service Restart service" in out
    assert "refused: 400" in out
    assert "this credential lacks remote-actions" in out
    assert "1 device(s): ['pc-1']" in out
    assert credential.client_secret not in out
