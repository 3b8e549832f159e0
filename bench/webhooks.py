"""Webhook delivery benchmark: one outbound worker against a plain pooled httpx client, posting
the same payloads to the same local HTTPS receiver, in one run, on SQLite and PostgreSQL.

    PYTHONPATH=src python bench/webhooks.py [--events 2000] [--webhooks 8] [--rounds 3]
                                            [--batch 100] [--backends sqlite,postgresql]
                                            [--src path/to/another/checkout/src]

The receiver is uvicorn (one process, TLS with a trustme certificate) answering 200 to every
POST. For each back end, a throwaway installation gets a Basic credential to the receiver and
``--webhooks`` webhooks on it; each worker round queues ``--events`` events (spread over the
webhooks) through the outbox and times ``worker.drain()`` (the loop the running worker uses)
until none is pending. The plain round posts the same bodies with one ``httpx.AsyncClient`` and as many requests at once as the
worker may send to one destination. Rounds alternate; the medians give the ratio.
Target (issue "outbound at line rate"): worker >= 0.7 x plain client.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import trustme

TARGET = 0.7
SRC = Path(__file__).resolve().parents[1] / "src"
PG_ADMIN = "postgresql://127.0.0.1:5432/test"

_RECEIVER = textwrap.dedent(
    """
    import sys, uvicorn

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                access_log=False, ssl_certfile=sys.argv[2], ssl_keyfile=sys.argv[3])
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def receiver(directory: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS receiver in its own process; yields its URL and the CA bundle that trusts it."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    bundle, chain, key = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca.cert_pem.write_to_path(str(bundle))
    cert.private_key_pem.write_to_path(str(key))
    for index, blob in enumerate(cert.cert_chain_pems):
        blob.write_to_path(str(chain), append=index > 0)
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", _RECEIVER, str(port), str(chain), str(key)],
        stderr=subprocess.DEVNULL,
    )
    url = f"https://127.0.0.1:{port}"
    try:
        for _ in range(600):  # a minute
            if process.poll() is not None:
                raise RuntimeError("the receiver exited")
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(url, verify=str(bundle), timeout=1)
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the receiver did not start")
        yield url, bundle
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def database(backend: str, directory: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'bench.db'}"
        return
    import psycopg

    name = f"bench_webhooks_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def bench_backend(backend: str, args: argparse.Namespace) -> float:
    sys.path.insert(0, str(args.src))
    from credgate.bootstrap import initialise
    from credgate.connectors import connections
    from credgate.container import Container
    from credgate.core.audit.services import Actor
    from credgate.core.config import Settings
    from credgate.core.db import Database

    # A checkout from before pooled clients (--src) has no such bound: give the plain client 8.
    per_destination = getattr(connections, "CONNECTIONS_PER_DESTINATION", 8)
    actor = Actor("bench", "bench")
    with (
        tempfile.TemporaryDirectory(prefix="credgate-bench-") as tmp,
        receiver(Path(tmp)) as (url, bundle),
        database(backend, Path(tmp)) as db_url,
    ):
        settings = Settings(
            data_dir=Path(tmp) / "var",
            database_url=db_url,
            master_key=f"1:{base64.b64encode(secrets.token_bytes(32)).decode()}",
            pepper=base64.b64encode(secrets.token_bytes(32)).decode(),
            admin_password="bench-admin-password-1",
            outbound_ca_bundle=bundle,
            outbound_allowed_networks=["127.0.0.0/8"],
            worker_in_serve=False,
            worker_batch_size=args.batch,
        )
        db = Database(settings.resolved_database_url)
        initialise(settings, db)
        db.dispose()
        container = Container.open(settings)
        try:
            cred = container.connector_credentials.create(
                {
                    "name": "receiver",
                    "protocol": "HTTPS",
                    "url": url + "/",
                    "authorization": {"type": "BASIC", "username": "svc", "password": "Pw-bench-1"},
                },
                actor=actor,
            )
            hooks = [
                container.outbound.webhooks.create(
                    {
                        "name": f"hook-{n}",
                        "credential": cred.id,
                        "resource": "/events",
                        "payload_template": '{"n": {{ payload.n }}, "who": "{{ client_id }}"}',
                        "signing_secret": "generate",
                    },
                    actor=actor,
                )[0]["id"]
                for n in range(args.webhooks)
            ]
            webhooks = container.outbound.webhooks
            worker = container.outbound.worker

            def enqueue() -> None:
                with container.db.session() as session:
                    for n in range(args.events):
                        context = {"client_id": "bench", "payload": {"n": n}}
                        webhooks.enqueue(
                            session, "explicit", context, webhook_id=hooks[n % len(hooks)]
                        )

            async def worker_round() -> float:
                await asyncio.to_thread(enqueue)
                started = time.perf_counter()
                if hasattr(worker, "drain"):  # batches overlap, as in the running worker
                    await worker.drain()
                else:  # a checkout from before (--src)
                    while await worker.run_once():
                        pass
                elapsed = time.perf_counter() - started
                counts = await asyncio.to_thread(webhooks.counts)
                if set(counts) != {"delivered"}:
                    raise RuntimeError(f"not everything was delivered: {counts}")
                return args.events / elapsed

            bodies = [json.dumps({"n": n, "who": "bench"}).encode() for n in range(args.events)]
            auth = "Basic " + base64.b64encode(b"svc:Pw-bench-1").decode()

            async def plain_round() -> float:
                limits = httpx.Limits(
                    max_connections=per_destination,
                    max_keepalive_connections=per_destination,
                )
                queue = iter(bodies)
                async with httpx.AsyncClient(verify=str(bundle), limits=limits) as client:

                    async def sender() -> None:
                        for body in queue:
                            answer = await client.post(
                                f"{url}/events",
                                content=body,
                                headers={
                                    "authorization": auth,
                                    "content-type": "application/json",
                                    "webhook-id": "msg_" + secrets.token_hex(16),
                                },
                            )
                            answer.raise_for_status()

                    started = time.perf_counter()
                    await asyncio.gather(*(sender() for _ in range(per_destination)))
                    return args.events / (time.perf_counter() - started)

            async def run() -> tuple[list[float], list[float]]:
                await worker_round()  # warm up: templates, the pooled client, the caches
                ours, plain = [], []
                for _ in range(args.rounds):
                    ours.append(await worker_round())
                    plain.append(await plain_round())
                return ours, plain

            ours, plain = asyncio.run(run())
        finally:
            container.close()
    worker_rate, plain_rate = statistics.median(ours), statistics.median(plain)
    ratio = worker_rate / plain_rate
    print(
        f"{backend:<10} worker {worker_rate:8,.0f} deliveries/s   plain httpx "
        f"{plain_rate:8,.0f} req/s   ratio {ratio:.2f}   "
        f"(rounds: worker {', '.join(f'{r:,.0f}' for r in ours)}; "
        f"plain {', '.join(f'{r:,.0f}' for r in plain)})",
        flush=True,
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--webhooks", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--src", type=Path, default=SRC, help="the credgate sources to measure (another checkout)"
    )
    args = parser.parse_args()
    ratios = {b: bench_backend(b, args) for b in args.backends.split(",")}
    worst = min(ratios.values())
    verdict = "meets" if worst >= TARGET else "misses"
    print(f"lowest ratio {worst:.2f}: {verdict} the target {TARGET}")


if __name__ == "__main__":
    main()
