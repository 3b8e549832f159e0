"""Commands that act on the whole installation rather than on one feature: the token-signing
keys (``credgate keys``), the vault's master keys (``credgate vault``) and the background
``credgate worker``. They need the composition root (the container, every feature's sealed
columns), so they live here, beside the entry point, and not in ``credgate.security``.

:func:`open_container` is also how ``credgate.cli`` gives feature commands their services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

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

if TYPE_CHECKING:
    from credgate.container import Container
    from credgate.core.config import Settings
    from credgate.core.db import Database
    from credgate.core.services import Services

__all__ = ["keys_app", "open_container", "open_services", "vault_app", "worker"]

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


@contextmanager
def open_container() -> Iterator[Container]:
    """Open the installation for one command; a service's error exits with ``error: ...``."""
    from credgate.container import Container
    from credgate.security.keyfiles import BootstrapError

    settings = settings_or_exit()
    try:
        with database_errors_to_exit(settings.resolved_database_url):
            container = Container.open(settings)
    except BootstrapError as exc:
        message = str(exc)
        if message.startswith(("no master key", "no pepper")):
            fail(_not_initialised(settings, message.split(":")[0]))
        fail(message)
    except LookupError as exc:
        fail(str(exc))
    try:
        with errors_to_exit():
            yield container
    finally:
        container.close()


@contextmanager
def open_services() -> Iterator[Services]:
    """The container's services (:data:`credgate.core.cli.ServicesOpener`)."""
    with open_container() as container:
        yield container.services


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
def _rotation_progress() -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """Callbacks (start with a total, advance by n) that drive a progress bar on stderr."""
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
        yield (
            lambda total: progress.update(task, total=total),
            lambda n: progress.advance(task, n),
        )


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
        with _rotation_progress() as (start, advance):
            version, report = rotate_key_file(
                settings,
                db,
                SEALED,
                drop_old=drop_old,
                batch_size=batch_size,
                on_start=start,
                on_progress=advance,
            )
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
        with _rotation_progress() as (start, advance):
            report = reencrypt_installation(
                settings,
                db,
                SEALED,
                drop_old=drop_old,
                batch_size=batch_size,
                on_start=start,
                on_progress=advance,
            )
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
