"""The data directory is 0700, the keys and the SQLite files 0600; wider modes are warned about."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from credgate.container import Container
from credgate.core.config import Settings
from served import ServedCredgate, credgate_env, run_credgate


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_a_fresh_installation_is_private(tmp_path: Path, umask: int) -> None:
    with ServedCredgate(tmp_path, umask=umask) as served:
        var = served.data_dir
        files = [
            "credgate.db",
            "credgate.db-wal",
            "credgate.db-shm",
            "master.key",
            "pepper.key",
        ]
        found = {name: oct(mode(var / name)) for name in files}  # all exist while serving
        assert oct(mode(var)) == "0o700"
        assert found == dict.fromkeys(files, "0o600")
        log = served.log.read_text()
    assert "open to other users" not in log


def test_init_warns_about_each_widened_file(tmp_path: Path) -> None:
    env = credgate_env(tmp_path / "var")
    first = run_credgate(env, "init")
    assert first.returncode == 0, first.stderr
    assert "warning" not in first.stderr
    var = tmp_path / "var"
    os.chmod(var, 0o755)  # noqa: S103 - widened on purpose, to be warned about
    os.chmod(var / "master.key", 0o644)
    os.chmod(var / "credgate.db", 0o640)

    again = run_credgate(env, "init")
    assert again.returncode == 0, again.stderr
    warnings = [line for line in again.stderr.splitlines() if line.startswith("warning:")]
    expected = [(var, "0755", "700"), (var / "master.key", "0644", "600")]
    # SQLite gives the -wal and -shm files (open while init runs) the database file's mode.
    expected += [(var / f"credgate.db{s}", "0640", "600") for s in ("", "-wal", "-shm")]
    assert warnings == [
        f"warning: {path} is open to other users (mode {wide}); "
        f"restrict it with: chmod {narrow} {path}"
        for path, wide, narrow in expected
    ]
    assert "Traceback" not in again.stderr


def test_every_start_checks_the_modes(
    container: Container, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    pepper = settings.data_dir / "pepper.key"  # the container fixture passes its keys in settings
    pepper.write_text("unused\n")
    pepper.chmod(0o604)
    with caplog.at_level(logging.WARNING, logger="credgate.container"):
        Container.open(settings).close()
    assert [r.getMessage() for r in caplog.records if r.name == "credgate.container"] == [
        f"{pepper} is open to other users (mode 0604); restrict it with: chmod 600 {pepper}"
    ]
