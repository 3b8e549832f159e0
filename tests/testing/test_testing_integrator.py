"""An integrator's project outside the package (tests/integrator_example) runs its own checks
with the credgate.testing pytest plugin, in a fresh pytest process, and they pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "integrator_example"


def _run(*extra: str) -> subprocess.CompletedProcess[str]:
    """pytest on the example in a fresh process, plugins loaded only as ``extra`` asks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREDGATE_", "PYTEST_"))}
    env["PYTHONPATH"] = str(ROOT / "src")
    # Load the plugin only when asked with -p, whether or not credgate is installed (an
    # installed credgate registers it as an entry point, which pytest would load by itself).
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/integrator_example",
            "-p",
            "no:cacheprovider",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_integrator_example_passes_with_the_plugin() -> None:
    result = _run("-p", "credgate.testing.pytest_plugin")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
    assert not (EXAMPLE / "conftest.py").exists()
    # Its own configuration was used, not credgate's pyproject.toml or tests/conftest.py.
    assert f"rootdir: {EXAMPLE}" in result.stdout
    assert "configfile: pytest.ini" in result.stdout


def test_without_the_plugin_the_fixtures_are_missing() -> None:
    """The plugin is what provides the fixtures (so the first test proves it works)."""
    result = _run("-q")
    assert result.returncode != 0
    assert "fixture 'credgate_client' not found" in result.stdout
