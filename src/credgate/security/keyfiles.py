"""The installation's keys on disk or in the environment, checked at every start.

The master keys (the vault's) and the pepper (the secret hashes') are read from
``CREDGATE_MASTER_KEY`` / ``CREDGATE_PEPPER`` or from files in the data directory, created when
asked. At every start they are checked against markers in the database, so a wrong or missing
key stops credgate with a clear message instead of serving garbage or failing every client.

The data directory should be 0700 and the key files and the SQLite database 0600:
:func:`check_file_modes` warns about any of them that other users may read or enter.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import stat
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url

from credgate.core.config import Settings
from credgate.core.db import Database
from credgate.core.models import MetaEntry
from credgate.security.vault import (
    MasterKeyError,
    Vault,
    VaultError,
    format_master_keys,
    new_master_key,
    parse_master_keys,
    read_key_file,
    write_secret_file,
)

__all__ = [
    "VAULT_CHECK",
    "VAULT_MARKER",
    "BootstrapError",
    "check_file_modes",
    "check_keys",
    "master_key_path",
    "open_keys",
    "pepper_path",
]

_PEPPER_CHECK = "pepper_check"
VAULT_CHECK = "vault_check"
VAULT_MARKER = "credgate vault check"


class BootstrapError(Exception):
    """The installation cannot start; the message says why and what to do."""


def master_key_path(settings: Settings) -> Path:
    return settings.data_dir / "master.key"


def pepper_path(settings: Settings) -> Path:
    return settings.data_dir / "pepper.key"


def _load_master_keys(settings: Settings, create: bool, created: list[Path]) -> dict[int, bytes]:
    if settings.master_key is not None:
        return parse_master_keys(settings.master_key.get_secret_value())
    path = master_key_path(settings)
    if path.exists():
        try:
            return parse_master_keys(read_key_file(path))
        except MasterKeyError as exc:
            raise BootstrapError(f"{path}: {exc}") from exc
    if not create:
        raise BootstrapError(
            f"no master key: set CREDGATE_MASTER_KEY or run `credgate init` to create {path}"
        )
    keys = {1: new_master_key()}
    write_secret_file(path, format_master_keys(keys))
    created.append(path)
    return keys


def _load_pepper(settings: Settings, create: bool, created: list[Path]) -> bytes:
    if settings.pepper is not None:
        text = settings.pepper.get_secret_value()
        source = "CREDGATE_PEPPER"
    else:
        path = pepper_path(settings)
        source = str(path)
        if not path.exists():
            if not create:
                raise BootstrapError(
                    f"no pepper: set CREDGATE_PEPPER or run `credgate init` to create {path}"
                )
            write_secret_file(path, base64.b64encode(secrets.token_bytes(32)).decode())
            created.append(path)
        text = read_key_file(path)
    try:
        pepper = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BootstrapError(f"{source}: the pepper must be base64") from exc
    if len(pepper) < 32:
        raise BootstrapError(f"{source}: the pepper must be at least 32 bytes")
    return pepper


def _pepper_fingerprint(pepper: bytes) -> str:
    return hmac.new(pepper, b"credgate pepper check", hashlib.sha256).hexdigest()


def check_file_modes(settings: Settings) -> list[str]:
    """A warning for each of credgate's private files that group or others may use.

    The data directory should be 0700, and the key files, the SQLite database and its ``-wal``
    and ``-shm`` files 0600: they hold the keys to every secret, and the secrets themselves.
    """
    paths = [settings.data_dir, master_key_path(settings), pepper_path(settings)]
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database)
        paths += [database.with_name(f"{database.name}{suffix}") for suffix in ("", "-wal", "-shm")]
    warnings = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue  # not there (yet): nothing to warn about
        wanted = 0o700 if path.is_dir() else 0o600
        if mode & 0o077:
            warnings.append(
                f"{path} is open to other users (mode {mode:04o}); "
                f"restrict it with: chmod {wanted:o} {path}"
            )
    return warnings


def check_keys(db: Database, vault: Vault, pepper: bytes) -> None:
    """Compare the keys in hand with the markers the database was written with (or write them)."""
    with db.session() as session:
        entries = {e.key: e.value for e in session.scalars(select(MetaEntry))}
        expected = entries.get(_PEPPER_CHECK)
        if expected is None:
            session.add(MetaEntry(key=_PEPPER_CHECK, value=_pepper_fingerprint(pepper)))
        elif not hmac.compare_digest(expected, _pepper_fingerprint(pepper)):
            raise BootstrapError(
                "the pepper does not match the one this database was created with; every API "
                "credential secret would fail. Restore the original CREDGATE_PEPPER or pepper.key."
            )
        for name, value in entries.items():
            if not name.startswith(f"{VAULT_CHECK}:"):
                continue
            version = int(name.split(":", 1)[1])
            try:
                ok = vault.decrypt_text(value, context=VAULT_CHECK) == VAULT_MARKER
            except MasterKeyError as exc:
                raise BootstrapError(
                    f"master key version {version} is in use by this database but was not given; "
                    "add it to CREDGATE_MASTER_KEY or master.key"
                ) from exc
            except VaultError as exc:
                raise BootstrapError(
                    f"master key version {version} does not match the one this database was "
                    "written with; restore the original key"
                ) from exc
            if not ok:
                raise BootstrapError(f"master key version {version} failed its check")
        current = f"{VAULT_CHECK}:{vault.current_version}"
        if current not in entries:
            session.add(
                MetaEntry(key=current, value=vault.encrypt(VAULT_MARKER, context=VAULT_CHECK))
            )


def open_keys(
    settings: Settings, *, create: bool = False, created: list[Path] | None = None
) -> tuple[Vault, bytes]:
    """The vault and the pepper; with ``create``, missing key files are made (and listed in
    ``created``)."""
    created = created if created is not None else []
    try:
        keys = _load_master_keys(settings, create, created)
    except MasterKeyError as exc:
        raise BootstrapError(f"CREDGATE_MASTER_KEY: {exc}") from exc
    return Vault(keys), _load_pepper(settings, create, created)
