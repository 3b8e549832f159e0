"""The README's walk-through, run as written: its marked shell and Python blocks, top to bottom,
in one shell, against ``credgate serve`` on a free port in a fresh directory."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from served import ServedCredgate

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- walk-through -->\n```(bash|python)\n(.*?)^```$", re.S | re.M)
OPENING = """```bash
scripts/serve     # set up and serve on SQLite at http://127.0.0.1:8080 (prints the admin password once)
scripts/test      # set up and run every check: ruff, mypy and the whole test suite
```"""


def walkthrough_script(text: str, port: int) -> str:
    """One bash script: shell blocks as they are; consecutive Python blocks as one program, the
    way the README says to run them (in one file, with ``python``)."""
    parts = ["set -euo pipefail"]
    python: list[str] = []
    for language, body in BLOCK.findall(text):
        if language == "python":
            python.append(body)
            continue
        if python:
            parts.append("python - <<'PYTHON'\n" + "\n".join(python) + "PYTHON")
            python = []
        parts.append(body)
    if python:
        parts.append("python - <<'PYTHON'\n" + "\n".join(python) + "PYTHON")
    return "\n".join(parts).replace("127.0.0.1:8080", f"127.0.0.1:{port}")


def test_readme_opens_with_the_two_commands() -> None:
    body = README.read_text().split("\n", 2)[2]
    assert body.startswith(OPENING)


def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    text = README.read_text()
    blocks = BLOCK.findall(text)
    assert len(blocks) >= 8, "the walk-through's blocks are marked <!-- walk-through -->"
    assert "CLIENT_ID=$(" in blocks[0][1], "the walk-through sets its own variables"
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    (workdir / ".venv").symlink_to(sys.prefix)
    shutil.copytree(ROOT / "examples", workdir / "examples")
    with ServedCredgate(workdir) as server:
        done = subprocess.run(
            ["bash", "-c", walkthrough_script(text, server.port)],
            cwd=workdir,
            env=server.env,
            # The connector's password, at the prompt; no terminal, so it is read from stdin.
            input="walkthrough-password\n",
            capture_output=True,
            text=True,
            timeout=240,
            start_new_session=True,
            check=False,
        )
        assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        out = done.stdout
        client_id = re.search(r"client id: (\S+)", out)
        assert client_id is not None, out
        assert f'"client_id":"{client_id.group(1)}"' in out.replace(" ", ""), "claims printed"
        assert '"access_token"' in out
        assert "#restart_service" in out, "the demo workflow is listed"
        assert '["pc-1","Windows 11",16]' in out, "the demo devices are found"
        assert "ServiceNow" in out, "the example connector credential was created"
        assert "request " in out, "the SDK triggered the workflow"
        assert "refused: 4" in out, "the SDK example's validation error"
        assert "not found:" in out
        assert "device(s): ['pc-1', 'pc-2']" in out
        assert "walkthrough-password" not in out + done.stderr
