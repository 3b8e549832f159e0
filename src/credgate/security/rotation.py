"""Master-key rotation: add a key version, re-encrypt every sealed value under it, retire the old.

Every vault ciphertext in the database is described by a :class:`SealedColumn`, which the feature
that owns the column declares; the composition root gathers them into one :class:`SealedValues`
(``credgate.models.SEALED``) that every function here is given. This module knows no feature.
:func:`reencrypt_all` walks them in batches, one transaction per
batch, and rewrites each value that is not yet under the current key version. The update of a
row only applies if the row still holds the ciphertext that was read, so a value changed by a
running node in the meantime is never overwritten with an older one.

Once nothing is sealed under an older version, :func:`retire_old_versions` drops the older
versions' check markers (see :mod:`credgate.security.keyfiles`), and the older keys may be removed from
the key source: credgate then starts without them.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

from sqlalchemy import CursorResult, Table, and_, delete, select, update

from credgate.core.config import Settings
from credgate.core.db import Database
from credgate.core.models import MetaEntry
from credgate.security.keyfiles import (
    VAULT_CHECK,
    VAULT_MARKER,
    BootstrapError,
    check_keys,
    master_key_path,
    open_keys,
)
from credgate.security.models import SigningKey
from credgate.security.vault import (
    Vault,
    VaultError,
    format_master_keys,
    new_master_key,
    parse_master_keys,
)

__all__ = [
    "SIGNING_KEY_COLUMN",
    "KeyProposal",
    "ReencryptOptions",
    "ReencryptReport",
    "RotationError",
    "SealedColumn",
    "SealedValues",
    "add_key_version",
    "count_outdated",
    "keys_from_environment",
    "propose_key",
    "reencrypt_all",
    "reencrypt_installation",
    "retire_old_versions",
    "rotate_key_file",
    "sealed_column",
    "versions_in_use",
    "write_key_file",
]


class RotationError(Exception):
    """Re-encryption stopped; the message names the record (never its value)."""


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """A column that holds vault ciphertexts, and how to rebuild each value's context."""

    label: str
    table: Table
    keys: tuple[str, ...]
    column: str
    context: Callable[[Mapping[str, Any]], str]


def sealed_column(
    label: str,
    model: Any,
    keys: tuple[str, ...],
    column: str,
    context: Callable[[Mapping[str, Any]], str],
) -> SealedColumn:
    """The :class:`SealedColumn` of a mapped model's column."""
    table: Table = model.__table__
    return SealedColumn(label, table, keys, column, context)


@dataclass(frozen=True, slots=True)
class SealedValues:
    """Every sealed column of an installation, and what to run before re-encrypting them.

    ``before_reencrypt`` steps bring values up to date in their own way (for example, sealing
    values stored before a context existed); each takes the database and the vault.
    """

    columns: tuple[SealedColumn, ...]
    before_reencrypt: tuple[Callable[[Database, Vault], object], ...] = ()


SIGNING_KEY_COLUMN = sealed_column(
    "signing key", SigningKey, ("kid",), "private_key", lambda k: f"signing_key:{k['kid']}"
)


@dataclass
class ReencryptReport:
    """What a run did: values rewritten, and values left under older versions (by version)."""

    current_version: int
    reencrypted: int = 0
    remaining: dict[int, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.remaining


def _prefix(version: int) -> str:
    return f"v1.{version}."


def versions_in_use(db: Database, sealed_values: SealedValues) -> dict[int, int]:
    """How many sealed values each key version holds (check markers not counted)."""
    counts: Counter[int] = Counter()
    with db.session() as session:
        for sealed in sealed_values.columns:
            for (value,) in session.execute(select(sealed.table.c[sealed.column])):
                try:
                    counts[Vault.key_version(value)] += 1
                except VaultError:
                    counts[0] += 1  # not a vault value at all: reported as version 0
    return dict(sorted(counts.items()))


def count_outdated(db: Database, vault: Vault, sealed_values: SealedValues) -> int:
    """Sealed values not under the vault's current key version."""
    counts = versions_in_use(db, sealed_values)
    return sum(n for v, n in counts.items() if v != vault.current_version)


def reencrypt_all(
    db: Database,
    vault: Vault,
    sealed_values: SealedValues,
    *,
    batch_size: int = 200,
    on_progress: Callable[[int], None] | None = None,
) -> ReencryptReport:
    """Rewrite every sealed value under ``vault.current_version``, ``batch_size`` per commit.

    ``on_progress(n)`` is called after each batch with the number of values it handled.
    Raises :class:`RotationError` when a value cannot be decrypted with the keys in hand.
    """
    report = ReencryptReport(current_version=vault.current_version)
    prefix = _prefix(vault.current_version)
    for sealed in sealed_values.columns:
        table, column = sealed.table, sealed.table.c[sealed.column]
        key_columns = [table.c[name] for name in sealed.keys]
        while True:
            with db.session() as session:
                rows = session.execute(
                    select(*key_columns, column)
                    .where(~column.startswith(prefix))
                    .order_by(*key_columns)
                    .limit(batch_size)
                ).all()
                if not rows:
                    break
                rewritten = 0
                for row in rows:
                    keys = dict(zip(sealed.keys, row[:-1], strict=True))
                    old = row[-1]
                    try:
                        new = vault.reencrypt(old, context=sealed.context(keys))
                    except VaultError as exc:
                        where = ", ".join(f"{k}={v}" for k, v in keys.items())
                        raise RotationError(
                            f"{sealed.label} ({where}) cannot be decrypted with the master keys "
                            f"in hand: {exc}"
                        ) from None
                    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                        update(table)
                        .where(and_(*(c == keys[c.name] for c in key_columns)), column == old)
                        .values({sealed.column: new})
                    )
                    rewritten += result.rowcount
            report.reencrypted += rewritten
            if on_progress is not None:
                on_progress(len(rows))
            if rewritten == 0:
                break  # what is left keeps changing under us; reported as remaining
    in_use = versions_in_use(db, sealed_values)
    report.remaining = {v: n for v, n in in_use.items() if v != vault.current_version}
    return report


def retire_old_versions(db: Database, vault: Vault, sealed_values: SealedValues) -> list[int]:
    """Make the check marker of the current version the only one, if nothing older is in use.

    Returns the versions still in use by sealed values other than the current one (empty when
    the older keys may now be removed from the key source).
    """
    still_used = [v for v in versions_in_use(db, sealed_values) if v != vault.current_version]
    with db.session() as session:
        current = f"{VAULT_CHECK}:{vault.current_version}"
        if session.get(MetaEntry, current) is None:
            session.add(
                MetaEntry(key=current, value=vault.encrypt(VAULT_MARKER, context=VAULT_CHECK))
            )
        if not still_used:
            session.execute(
                delete(MetaEntry).where(
                    MetaEntry.key.startswith(f"{VAULT_CHECK}:"), MetaEntry.key != current
                )
            )
    return still_used


def add_key_version(keys: Mapping[int, bytes]) -> tuple[int, dict[int, bytes]]:
    """A new random AES-256 key as the next version, with the given ones kept for decryption."""
    version = max(keys, default=0) + 1
    return version, {**keys, version: new_master_key()}


def write_key_file(path: Path, keys: Mapping[int, bytes]) -> None:
    """Replace the key file atomically (owner-only), so a crash leaves the old or the new one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(format_master_keys(keys) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# The operator's commands -----------------------------------------------------------------------


def keys_from_environment(settings: Settings) -> bool:
    """Whether the master keys come from ``CREDGATE_MASTER_KEY`` (else from the key file)."""
    return settings.master_key is not None


def _open_checked(settings: Settings, db: Database) -> tuple[Vault, bytes]:
    """The keys in hand, checked against the database's markers (a wrong key stops here)."""
    vault, pepper = open_keys(settings)
    check_keys(db, vault, pepper)
    return vault, pepper


class ReencryptOptions(TypedDict, total=False):
    """How :func:`reencrypt_installation` and :func:`rotate_key_file` re-encrypt: ``drop_old``
    (False), ``batch_size`` (200) and the progress callbacks (a total, then steps of n)."""

    drop_old: bool
    batch_size: int
    on_start: Callable[[int], None] | None
    on_progress: Callable[[int], None] | None


def reencrypt_installation(
    settings: Settings,
    db: Database,
    sealed_values: SealedValues,
    **options: Unpack[ReencryptOptions],
) -> ReencryptReport:
    """Re-encrypt everything under the newest key version in hand; retire older markers.

    With ``drop_old`` and keys from the key file, the file keeps only the newest version once
    nothing uses the older ones. (Keys from the environment are the operator's to edit.)
    """
    vault, _pepper = _open_checked(settings, db)
    for step in sealed_values.before_reencrypt:
        step(db, vault)
    if (on_start := options.get("on_start")) is not None:
        on_start(count_outdated(db, vault, sealed_values))
    batch_size, on_progress = options.get("batch_size", 200), options.get("on_progress")
    report = reencrypt_all(db, vault, sealed_values, batch_size=batch_size, on_progress=on_progress)
    still_used = retire_old_versions(db, vault, sealed_values)
    report.remaining = {v: n for v, n in report.remaining.items() if v in still_used}
    if options.get("drop_old", False) and not still_used and not keys_from_environment(settings):
        path = master_key_path(settings)
        keys = parse_master_keys(path.read_text(encoding="utf-8"))
        write_key_file(path, {vault.current_version: keys[vault.current_version]})
    return report


def rotate_key_file(
    settings: Settings,
    db: Database,
    sealed_values: SealedValues,
    **options: Unpack[ReencryptOptions],
) -> tuple[int, ReencryptReport]:
    """Append a new key version to the key file, then re-encrypt everything under it.

    The file is written before any value is re-encrypted and keeps the older versions, so an
    interruption leaves an installation that starts and reads everything; running
    :func:`reencrypt_installation` finishes the work.
    """
    if keys_from_environment(settings):
        raise BootstrapError(
            "the master keys come from CREDGATE_MASTER_KEY; use propose_key and set the new value"
        )
    vault, _pepper = _open_checked(settings, db)
    path = master_key_path(settings)
    keys = parse_master_keys(path.read_text(encoding="utf-8"))
    if set(keys) != set(vault.versions):  # pragma: no cover - open_keys read this very file
        raise BootstrapError(f"{path} changed while rotating; run the command again")
    version, new_keys = add_key_version(keys)
    write_key_file(path, new_keys)
    return version, reencrypt_installation(settings, db, sealed_values, **options)


@dataclass(frozen=True)
class KeyProposal:
    """A new ``CREDGATE_MASTER_KEY`` value: the new version first, the older ones kept."""

    version: int
    value: str = field(repr=False)


def propose_key(settings: Settings, db: Database) -> KeyProposal:
    """For keys from the environment: the value to set (nothing is changed anywhere)."""
    if settings.master_key is None:
        raise BootstrapError("the master keys come from the key file; rotate it in place")
    _open_checked(settings, db)  # a wrong key in hand stops here, before anything is proposed
    keys = parse_master_keys(settings.master_key.get_secret_value())
    version, new_keys = add_key_version(keys)
    return KeyProposal(version=version, value=format_master_keys(new_keys))
