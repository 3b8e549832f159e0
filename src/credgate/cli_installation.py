"""Commands that act on the whole installation rather than on one feature: the token-signing
keys (``credgate keys``), the vault's master keys (``credgate vault``), ``credgate backup`` and
``credgate restore``, and the background ``credgate worker``. They need the composition root (the container, every feature's sealed
columns), so they live here, beside the entry point, and not in ``credgate.security``.

:func:`open_container` is also how ``credgate.cli`` gives feature commands their services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer

from credgate.core.cli import (
    JsonOpt,
    database_errors_to_exit,
    emit,
    emit_table,
    errors_to_exit,
    fail,
    settings_or_exit,
    sub_app,
)
from credgate.core.services import Services

if TYPE_CHECKING:
    from credgate.container import Container
    from credgate.core.config import Settings
    from credgate.core.db import Database
    from credgate.security.rotation import ReencryptOptions
    from credgate.security.secrets import SecretHasher
    from credgate.security.vault import Vault

T = TypeVar("T")

__all__ = [
    "CommandServices",
    "backup",
    "keys_app",
    "open_container",
    "open_services",
    "restore",
    "vault_app",
    "worker",
]

keys_app = sub_app("Manage token-signing keys.")
vault_app = sub_app("Manage the vault's master keys (AES-256-GCM encryption of stored secrets).")


def _not_initialised(settings: Settings, message: str) -> str:
    """The key files are missing: say which instance was looked for, and how it was found, so
    that ``credgate init`` is not run by mistake in the wrong place."""
    from credgate.core.config import locate_instance

    location = locate_instance()
    return (
        f"no credgate instance at {settings.data_dir} (home {location.home}, from "
        f"{location.source}): {message}. To use an existing instance, run from its directory "
        "or set CREDGATE_HOME to it (`credgate info` shows which one is used); "
        "`credgate init` creates a new one here"
    )


def _open_installation() -> tuple[Settings, Database, Vault, bytes]:
    """The settings, the database and the checked keys; exits with one line when one of them
    cannot be had."""
    import logging

    from credgate.core.db import Database
    from credgate.security.keyfiles import (
        BootstrapError,
        check_file_modes,
        check_keys,
        open_keys,
    )

    settings = settings_or_exit()
    db = Database(settings.resolved_database_url)
    try:
        with database_errors_to_exit(settings.resolved_database_url):
            vault, pepper = open_keys(settings)
            check_keys(db, vault, pepper)
        for warning in check_file_modes(settings):
            logging.getLogger("credgate.container").warning(warning)
    except BootstrapError as exc:
        db.dispose()
        message = str(exc)
        if message.startswith(("no master key", "no pepper")):
            fail(_not_initialised(settings, message.split(":")[0]))
        fail(message)
    except LookupError as exc:
        db.dispose()
        fail(str(exc))
    except BaseException:
        db.dispose()
        raise
    return settings, db, vault, pepper


def _container(settings: Settings, db: Database, vault: Vault, hasher: SecretHasher) -> Container:
    """The composition root over keys already checked; a missing signing key exits with one
    line, as any other problem of the installation does."""
    from credgate.container import Container

    try:
        return Container(settings=settings, db=db, vault=vault, hasher=hasher)
    except LookupError as exc:
        fail(str(exc))


@contextmanager
def open_container() -> Iterator[Container]:
    """Open the installation for one command; a service's error exits with ``error: ...``."""
    from credgate.security.secrets import SecretHasher

    settings, db, vault, pepper = _open_installation()
    try:
        container = _container(settings, db, vault, SecretHasher(pepper))
    except BaseException:
        db.dispose()
        raise
    try:
        with errors_to_exit():
            yield container
    finally:
        container.close()


class CommandServices(Services):
    """The services of one command, each built when the command first asks for it.

    Building the container would import every feature (the web framework, every route, the
    outbound worker, SSH) and load the signing keys and the revocation list, most of a second
    before a command that lists one table. The services the feature commands use alone are
    built here from their own module (:data:`_FACTORIES`); any other type is taken from a
    container built on first need, over the same database and keys.
    """

    def __init__(self, settings: Settings, db: Database, vault: Vault, pepper: bytes) -> None:
        from credgate.core.changes import ChangeFeed
        from credgate.core.config import Settings
        from credgate.core.db import Database
        from credgate.security.secrets import SecretHasher

        super().__init__()
        self.settings = settings
        self.db = db
        self.vault = vault
        self.hasher = SecretHasher(pepper)
        self.feed = ChangeFeed(db)
        self._container: Container | None = None
        self.provide(Settings, settings)
        self.provide(Database, db)

    def get(self, kind: type[T]) -> T:
        if not super().__contains__(kind):
            factory = _FACTORIES.get(f"{kind.__module__}.{kind.__qualname__}")
            instance = factory(self) if factory else self.container().services.get(kind)
            self.provide(kind, cast(T, instance))
        return super().get(kind)

    def container(self) -> Container:
        """The whole composition root, built once, for the services not built alone."""
        if self._container is None:
            self._container = _container(self.settings, self.db, self.vault, self.hasher)
            # Changes made through services built here reach the container's caches too.
            self.feed.subscribe(self._container.feed.notify_local)
        return self._container

    def close(self) -> None:
        self.db.dispose()


def _api_credentials(s: CommandServices) -> object:
    from credgate.apicredentials.services import ApiCredentialService

    return ApiCredentialService(s.db, s.hasher, s.feed.notify_local)


def _admins(s: CommandServices) -> object:
    import datetime as dt

    from credgate.admins.services import AdminService

    return AdminService(
        s.db,
        s.hasher,
        token_default=dt.timedelta(days=s.settings.admin_token_default_days),
        token_max=dt.timedelta(days=s.settings.admin_token_max_days),
    )


def _users(s: CommandServices) -> object:
    from credgate.users.services import UserService

    return UserService(s.db)


def _engines(s: CommandServices) -> object:
    from credgate.classic.engines import EngineService

    return EngineService(s.db)


def _definitions(s: CommandServices) -> object:
    from credgate.platform.definitions import DefinitionService

    definitions = DefinitionService(s.db)
    s.feed.subscribe(definitions.on_change)
    return definitions


def _connector_credentials(s: CommandServices) -> object:
    from credgate.connectors.credentials.services import ConnectorCredentialService

    return ConnectorCredentialService(
        s.db,
        s.vault,
        base_url=s.settings.base_url,
        on_change=s.feed.notify_local,
        destinations=s.settings.outbound_destinations,
    )


def _connectors(s: CommandServices) -> object:
    from credgate.connectors.services import ConnectorService

    return ConnectorService(s.db)


def _connections(s: CommandServices) -> object:
    from credgate.connectors.connections import Connections
    from credgate.connectors.credentials.services import ConnectorCredentialService

    connections = Connections(s.settings, s.db, s.vault, s.get(ConnectorCredentialService))
    s.feed.subscribe(connections.on_change)
    return connections


_FACTORIES: dict[str, Callable[[CommandServices], object]] = {
    "credgate.apicredentials.services.ApiCredentialService": _api_credentials,
    "credgate.admins.services.AdminService": _admins,
    "credgate.users.services.UserService": _users,
    "credgate.classic.engines.EngineService": _engines,
    "credgate.platform.definitions.DefinitionService": _definitions,
    "credgate.connectors.credentials.services.ConnectorCredentialService": _connector_credentials,
    "credgate.connectors.services.ConnectorService": _connectors,
    "credgate.connectors.connections.Connections": _connections,
}
"""Services a command may have without the container, by the qualified name of their type
(a name, not the class: the table must not import the features). Each is built as
:class:`~credgate.container.Container` builds it."""


@contextmanager
def open_services() -> Iterator[Services]:
    """The services of one command (:data:`credgate.core.cli.ServicesOpener`), built as asked."""
    services = CommandServices(*_open_installation())
    try:
        with errors_to_exit():
            yield services
    finally:
        services.close()


# keys -----------------------------------------------------------------------------------------


@keys_app.command("rotate")
def keys_rotate(as_json: JsonOpt = False) -> None:
    """Sign new tokens with a new key; the old one stays published until its tokens expire."""
    from credgate.core.audit.services import Actor, record

    with open_container() as container:
        old = container.keys().active.kid
        kid = container.rotate_keys()
        with container.db.session() as session:
            record(session, Actor.cli(), "signing_key.rotate", "signing_key", kid)
        emit(
            {"kid": kid, "previous": old},
            as_json,
            lambda d: typer.echo(
                f"new signing key {d['kid']}; {d['previous']} stays in the JWKS until its last "
                "token expires"
            ),
        )


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """Published signing keys."""
    with open_container() as container:
        keys = container.keys()
        rows = [
            {
                "kid": k.kid,
                "active": k.kid == keys.active.kid,
                "created_at": k.created_at.isoformat(),
                "published_until": k.publish_until.isoformat() if k.publish_until else None,
            }
            for k in keys.published
        ]
        emit_table(
            rows,
            as_json,
            [
                ("state", lambda r: "active" if r["active"] else "retired"),
                ("kid", "kid"),
                ("created", "created_at"),
                ("published until", "published_until"),
            ],
        )


# vault ----------------------------------------------------------------------------------------


@contextmanager
def _rotation_progress(drop_old: bool, batch_size: int) -> Iterator[ReencryptOptions]:
    """The options of a re-encryption, with callbacks that drive a progress bar on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task = progress.add_task("re-encrypting", total=None)
    with progress:
        yield {
            "drop_old": drop_old,
            "batch_size": batch_size,
            "on_start": lambda total: progress.update(task, total=total),
            "on_progress": lambda n: progress.advance(task, n),
        }


def _vault_database() -> tuple[Settings, Database]:
    from credgate.core.db import Database

    settings = settings_or_exit()
    return settings, Database(settings.resolved_database_url)


def _report_reencryption(report: Any, from_environment: bool, drop_old: bool) -> None:
    typer.echo(
        f"re-encrypted {report.reencrypted} value(s) under key version {report.current_version}"
    )
    if report.remaining:
        left = ", ".join(f"version {v}: {n}" for v, n in report.remaining.items())
        fail(
            f"some values are still under older keys ({left}); run `credgate vault reencrypt` "
            "again",
            code=1,
        )
    if from_environment:
        typer.echo(
            "no value uses an older key version any more: you may remove the older entries "
            f"from CREDGATE_MASTER_KEY, keeping only version {report.current_version}"
        )
    elif drop_old:
        typer.echo(f"the key file now holds only version {report.current_version}")
    else:
        typer.echo(
            "no value uses an older key version any more; run `credgate vault reencrypt "
            "--drop-old` to remove them from the key file"
        )


DropOldOpt = Annotated[
    bool,
    typer.Option(
        "--drop-old",
        help="Once nothing uses them, remove the older key versions from the key file.",
    ),
]
BatchOpt = Annotated[
    int, typer.Option(min=1, max=10000, help="Values re-encrypted per transaction.")
]


@vault_app.command("rotate-key")
def vault_rotate_key(drop_old: DropOldOpt = False, batch_size: BatchOpt = 200) -> None:
    """Add a new master key version and re-encrypt every stored secret under it.

    Keys in the key file (<data_dir>/master.key): the new version is appended to the file
    (the older ones are kept, so nothing becomes unreadable if this is interrupted), then every
    signing key, connector secret and key check is re-encrypted, batch by batch.

    Keys in CREDGATE_MASTER_KEY: nothing is changed. The command prints the new value of
    CREDGATE_MASTER_KEY (new version first, older ones kept). Set it on every node, restart
    them, then run `credgate vault reencrypt` once; afterwards the older entries may be removed.
    """
    from credgate.core.audit.services import Actor, record
    from credgate.models import SEALED
    from credgate.security.keyfiles import BootstrapError
    from credgate.security.rotation import (
        RotationError,
        keys_from_environment,
        propose_key,
        rotate_key_file,
    )

    settings, db = _vault_database()
    try:
        if keys_from_environment(settings):
            proposal = propose_key(settings, db)
            typer.echo(f"new master key version {proposal.version}. Set on every node:")
            typer.echo("")
            typer.secho(f"CREDGATE_MASTER_KEY={proposal.value}", bold=True)
            typer.echo("")
            typer.echo(
                "(shown once; nothing was changed yet). Restart the nodes with it, then run "
                "`credgate vault reencrypt`."
            )
            return
        with _rotation_progress(drop_old, batch_size) as options:
            version, report = rotate_key_file(settings, db, SEALED, **options)
        typer.echo(f"added master key version {version} to the key file")
        with db.session() as session:
            record(session, Actor.cli(), "vault.rotate_key", "master_key", str(version))
        _report_reencryption(report, False, drop_old)
    except (BootstrapError, RotationError) as exc:
        fail(str(exc))
    finally:
        db.dispose()


@vault_app.command("reencrypt")
def vault_reencrypt(drop_old: DropOldOpt = False, batch_size: BatchOpt = 200) -> None:
    """Re-encrypt every stored secret under the newest master key version given.

    Run it after setting a new CREDGATE_MASTER_KEY from `credgate vault rotate-key`, or to
    finish a rotation that was interrupted. It is safe to run again.
    """
    from credgate.core.audit.services import Actor, record
    from credgate.models import SEALED
    from credgate.security.keyfiles import BootstrapError
    from credgate.security.rotation import (
        RotationError,
        keys_from_environment,
        reencrypt_installation,
    )

    settings, db = _vault_database()
    try:
        with _rotation_progress(drop_old, batch_size) as options:
            report = reencrypt_installation(settings, db, SEALED, **options)
        with db.session() as session:
            record(
                session,
                Actor.cli(),
                "vault.reencrypt",
                "master_key",
                str(report.current_version),
            )
        _report_reencryption(report, keys_from_environment(settings), drop_old)
    except (BootstrapError, RotationError) as exc:
        fail(str(exc))
    finally:
        db.dispose()


@vault_app.command("status")
def vault_status(as_json: JsonOpt = False) -> None:
    """How many stored secrets each master key version holds."""
    from credgate.models import SEALED
    from credgate.security.keyfiles import BootstrapError, check_keys, open_keys
    from credgate.security.rotation import versions_in_use

    settings, db = _vault_database()
    try:
        vault, pepper = open_keys(settings)
        check_keys(db, vault, pepper)
        data = {
            "current_version": vault.current_version,
            "loaded_versions": list(vault.versions),
            "values_by_version": {str(v): n for v, n in versions_in_use(db, SEALED).items()},
        }
    except BootstrapError as exc:
        fail(str(exc))
    finally:
        db.dispose()

    def render(d: dict[str, Any]) -> None:
        typer.echo(f"current key version: {d['current_version']}")
        typer.echo(f"loaded versions:     {', '.join(map(str, d['loaded_versions']))}")
        for version, count in d["values_by_version"].items():
            typer.echo(f"  version {version}: {count} value(s)")

    emit(data, as_json, render)


# worker ---------------------------------------------------------------------------------------


def worker() -> None:
    """Deliver webhooks and run exporters, without serving HTTP (for scale-out)."""
    import asyncio
    import signal

    from credgate.core.logs import configure_logging

    settings = settings_or_exit()
    configure_logging(settings.log_level, settings.log_format)

    async def main(container: Container) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        sync = asyncio.create_task(container.run_sync_loop(stop))
        await container.outbound.worker.run(stop)
        await sync

    with open_container() as container:
        typer.echo(f"credgate worker {container.outbound.worker.worker_id} started", err=True)
        asyncio.run(main(container))


# backup / restore -----------------------------------------------------------------------------

_BACKUP_FORMAT = "credgate-backup"
_BACKUP_VERSION = 1
_MANIFEST = "manifest.json"
_DATABASE_MEMBER = "credgate.db"


def _sqlite_path(settings: Settings) -> Path | None:
    """The SQLite file of the installation, or None on another database."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _key_files(settings: Settings) -> tuple[list[Path], list[str]]:
    """The key files to save, and the keys that come from the environment instead."""
    from credgate.security.keyfiles import master_key_path, pepper_path

    files: list[Path] = []
    from_env: list[str] = []
    for variable, value, path in (
        ("CREDGATE_MASTER_KEY", settings.master_key, master_key_path(settings)),
        ("CREDGATE_PEPPER", settings.pepper, pepper_path(settings)),
    ):
        if value is not None:
            from_env.append(variable)
        elif path.exists():
            files.append(path)
        else:
            fail(f"no key file {path}: run `credgate init` first, or set {variable}")
    return files, from_env


def _add_file(archive: Any, source: Path, name: str) -> None:
    info = archive.gettarinfo(str(source), arcname=name)
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    with source.open("rb") as handle:
        archive.addfile(info, handle)


@contextmanager
def _private_output(target: Path) -> Iterator[Path]:
    """A 0600 temporary file next to ``target`` that replaces it once complete."""
    import os
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    partial = Path(name)
    try:
        yield partial
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


BackupFileArg = Annotated[Path, typer.Argument(help="The archive (.tar.gz).", dir_okay=False)]


def backup(
    file: BackupFileArg,
    keys: Annotated[
        bool,
        typer.Option(
            "--keys/--no-keys",
            help="Include the key files (master.key, pepper.key). Without them the archive "
            "cannot be read back; keep the keys elsewhere then.",
        ),
    ] = True,
    keys_only: Annotated[
        bool,
        typer.Option(
            "--keys-only",
            help="Only the key files (on PostgreSQL, next to a pg_dump of the database).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Save the installation to one archive, while it runs: the SQLite database (SQLite's
    online backup, a consistent copy) and the key files needed to read it.

    On PostgreSQL, dump the database with pg_dump and save the keys alone with the
    option --keys-only (see docs/backup.md). The archive is readable by its owner only.
    """
    import datetime as dt
    import io
    import json
    import sqlite3
    import tarfile
    import tempfile

    from credgate import __version__

    if keys_only and not keys:
        fail("--keys-only and --no-keys leave nothing to save; use one")
    settings = settings_or_exit()
    database = None if keys_only else _sqlite_path(settings)
    if not keys_only and database is None:
        fail(
            "the database is not SQLite: dump it with pg_dump (see docs/backup.md) and save "
            "the keys with `credgate backup --keys-only FILE`"
        )
    if database is not None and not database.exists():
        fail(f"no database at {database}: run `credgate init` first")
    key_files, from_env = _key_files(settings) if keys else ([], [])
    manifest: dict[str, Any] = {
        "format": _BACKUP_FORMAT,
        "version": _BACKUP_VERSION,
        "credgate": __version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "database": _DATABASE_MEMBER if database is not None else None,
        "keys": [path.name for path in key_files],
    }
    with tempfile.TemporaryDirectory(dir=file.parent if file.parent.exists() else None) as tmp:
        copy = Path(tmp) / _DATABASE_MEMBER
        if database is not None:
            try:
                source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
                target = sqlite3.connect(copy)
                try:
                    with target:
                        source.backup(target)
                finally:
                    target.close()
                    source.close()
            except sqlite3.Error as exc:
                fail(f"cannot back up {database}: {exc}")
        try:
            with _private_output(file) as partial, tarfile.open(partial, "w:gz") as archive:
                body = json.dumps(manifest, indent=2).encode()
                info = tarfile.TarInfo(_MANIFEST)
                info.size, info.mode = len(body), 0o600
                archive.addfile(info, io.BytesIO(body))
                if database is not None:
                    _add_file(archive, copy, _DATABASE_MEMBER)
                for path in key_files:
                    _add_file(archive, path, path.name)
        except OSError as exc:
            fail(f"cannot write {file}: {exc.strerror or exc}")
    result = {**manifest, "file": str(file), "keys_from_environment": from_env}

    def render(data: dict[str, Any]) -> None:
        saved = ([data["database"]] if data["database"] else []) + data["keys"]
        typer.echo(f"saved {', '.join(saved)} to {data['file']}")
        if data["keys"]:
            typer.echo("the archive holds the keys to every secret: keep it as safe as the keys")
        else:
            typer.echo("the archive holds no key file; keep the keys in your secret store")
        for variable in data["keys_from_environment"]:
            typer.echo(f"{variable} comes from the environment: keep it in your secret store")

    emit(result, as_json, render)


def _read_backup(file: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and the files of an archive written by :func:`backup`."""
    import json
    import tarfile

    allowed = {_MANIFEST, _DATABASE_MEMBER, "master.key", "pepper.key"}
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(file, "r:gz") as archive:
            for member in archive.getmembers():
                if member.name not in allowed or not member.isfile():
                    fail(f"{file}: unexpected entry {member.name!r}; not a credgate backup")
                handle = archive.extractfile(member)
                assert handle is not None  # a regular file, checked above
                members[member.name] = handle.read()
    except FileNotFoundError:
        fail(f"{file}: no such file")
    except (OSError, tarfile.TarError, EOFError) as exc:
        fail(f"{file}: not a credgate backup ({exc})")
    try:
        manifest = json.loads(members[_MANIFEST])
    except (KeyError, ValueError):
        fail(f"{file}: no readable {_MANIFEST}; not a credgate backup")
    if not isinstance(manifest, dict) or manifest.get("format") != _BACKUP_FORMAT:
        fail(f"{file}: not a credgate backup")
    if manifest.get("version") != _BACKUP_VERSION:
        fail(f"{file}: backup format version {manifest.get('version')!r} is not supported")
    return manifest, members


def _write_private(path: Path, content: bytes) -> None:
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def restore(file: BackupFileArg, as_json: JsonOpt = False) -> None:
    """Restore an archive from `credgate backup` into a fresh installation home.

    Nothing is overwritten: the database and key files must not exist yet. The keys are
    checked against the restored database, and the schema is brought up to date; if that
    fails, what was written is removed again.
    """
    from credgate.bootstrap import initialise
    from credgate.core.db import Database
    from credgate.security.keyfiles import BootstrapError, master_key_path, pepper_path

    settings = settings_or_exit()
    manifest, members = _read_backup(file)
    database = _sqlite_path(settings)
    targets: dict[Path, bytes] = {}
    if _DATABASE_MEMBER in members:
        if database is None:
            fail(
                "the archive holds a SQLite database but this installation uses another "
                "database; restore a pg_dump with pg_restore (see docs/backup.md)"
            )
        targets[database] = members[_DATABASE_MEMBER]
    for name, path in (
        ("master.key", master_key_path(settings)),
        ("pepper.key", pepper_path(settings)),
    ):
        if name in members:
            targets[path] = members[name]
    leftovers = []
    if database is not None and database in targets:
        # A stale write-ahead log next to the restored file would be replayed into it.
        leftovers = [database.with_name(f"{database.name}{end}") for end in ("-wal", "-shm")]
    for path in [*targets, *leftovers]:
        if path.exists():
            fail(f"{path} exists: restore into a fresh home (an empty CREDGATE_DATA_DIR)")
    for name, variable, value, path in (
        ("master.key", "CREDGATE_MASTER_KEY", settings.master_key, master_key_path(settings)),
        ("pepper.key", "CREDGATE_PEPPER", settings.pepper, pepper_path(settings)),
    ):
        if name not in members and value is None and not path.exists():
            fail(f"the archive holds no {name}: put the saved one at {path} or set {variable}")
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        for path, content in targets.items():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_private(path, content)
            written.append(path)
        db = Database(settings.resolved_database_url)
        try:
            initialise(settings, db, create_keys=False)
        finally:
            db.dispose()
    except BootstrapError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        fail(f"restore undone: {exc}")
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        fail(f"restore undone: {exc.strerror or exc}")
    result = {**manifest, "restored": [str(path) for path in written]}

    def render(data: dict[str, Any]) -> None:
        for path in data["restored"]:
            typer.echo(f"restored {path}")
        typer.echo(f"backup of {data['created_at']} restored; the keys match the database")

    emit(result, as_json, render)
