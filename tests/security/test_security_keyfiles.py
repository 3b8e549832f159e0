"""A wrong or missing key stops credgate at start with a clear message."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from credgate.bootstrap import initialise
from credgate.container import Container
from credgate.core.config import Settings
from credgate.core.db import Database
from credgate.security.keyfiles import BootstrapError
from support import make_key_material


def test_wrong_master_key_refuses_to_start(container: Container, settings: Settings) -> None:
    wrong = make_key_material()
    with pytest.raises(BootstrapError, match="master key version 1 does not match"):
        Container.open(
            settings.model_copy(
                update={"master_key": Settings(master_key=wrong["master_key"]).master_key}
            )
        )


def test_missing_master_key_version_refuses_to_start(
    container: Container, settings: Settings
) -> None:
    other = f"2:{base64.b64encode(b'9' * 32).decode()}"
    with pytest.raises(
        BootstrapError, match="version 1 is in use by this database but was not given"
    ):
        Container.open(
            settings.model_copy(update={"master_key": Settings(master_key=other).master_key})
        )


def test_wrong_pepper_refuses_to_start(container: Container, settings: Settings) -> None:
    wrong = make_key_material()["pepper"]
    with pytest.raises(BootstrapError, match="pepper does not match"):
        Container.open(settings.model_copy(update={"pepper": Settings(pepper=wrong).pepper}))


def test_key_files_are_created_only_by_init(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(BootstrapError, match="run `credgate init`"):
        Container.open(settings)
    db = Database(settings.resolved_database_url)
    _vault, _pepper, report = initialise(settings, db)
    db.dispose()
    assert {p.name for p in report.created_files} == {"master.key", "pepper.key"}
    assert report.admin_password
    Container.open(settings).close()


def test_malformed_master_key_file(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "master.key").write_text("garbage\n")
    settings = Settings(data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(
        BootstrapError, match=r"master\.key: master key entry 1 must read VERSION:BASE64"
    ):
        Container.open(settings)
