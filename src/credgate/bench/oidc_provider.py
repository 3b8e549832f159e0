"""The token endpoint against node-oidc-provider (npm ``oidc-provider``) on the same machine.

Both issue ES256-signed JWT access tokens (``at+jwt``) for ``client_credentials`` with HTTP
Basic client authentication: credgate with one uvicorn worker, oidc-provider in one Node.js
process. wrk drives them alternately (``rounds`` times each, same body, connections and
seconds), and the ratio of the medians is printed. oidc-provider is installed from npm into a
temporary directory (``--oidc-dir`` reuses an installed one).
"""

from __future__ import annotations

import base64
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx

from credgate.bench._harness import (
    _free_port,
    alternate,
    medians,
    options,
    run_wrk,
    server,
    stop,
    verdict,
    warn_failures,
)

BODY = "grant_type=client_credentials&scope=service%3Aintegration"
TARGET = 2.5
VERSION = "8.8.1"
CLIENT_ID = "bench"
CLIENT_SECRET = "bench-secret-0123456789"

_SERVER = """
import Provider from 'oidc-provider';
import { generateKeyPairSync } from 'node:crypto';
const port = Number(process.argv[2]);
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig', alg: 'ES256' };
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: '%(client_id)s', client_secret: '%(client_secret)s',
    grant_types: ['client_credentials'], redirect_uris: [], response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256', scope: 'service:integration',
  }],
  scopes: ['service:integration'],
  jwks: { keys: [jwk] },
  enabledJWA: { idTokenSigningAlgValues: ['ES256'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'https://api.example.com',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'service:integration', audience: 'https://api.example.com',
        accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});
provider.listen(port, '127.0.0.1');
"""


def _install(directory: Path) -> None:
    if (directory / "node_modules" / "oidc-provider").is_dir():
        return
    subprocess.run(
        ["npm", "install", "--silent", "--no-audit", "--no-fund", f"oidc-provider@{VERSION}"],
        cwd=directory,
        check=True,
    )


@contextmanager
def _oidc_provider(directory: Path | None) -> Iterator[tuple[str, int]]:
    """oidc-provider serving on a free loopback port; yields its token endpoint and process."""
    work = directory or Path(tempfile.mkdtemp(prefix="credgate-oidc-"))
    work.mkdir(parents=True, exist_ok=True)
    _install(work)
    script = work / "bench-server.mjs"
    script.write_text(_SERVER % {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    port = _free_port()
    proc = subprocess.Popen(
        ["node", str(script), str(port)],
        cwd=work,
        env={**os.environ, "NODE_ENV": "production"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/token"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.post(
                    url,
                    content=BODY,
                    auth=(CLIENT_ID, CLIENT_SECRET),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                    timeout=2,
                )
                if answer.status_code == 200 and answer.json()["access_token"].count(".") == 2:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("oidc-provider did not start")
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        stop(proc)
        if directory is None:
            shutil.rmtree(work, ignore_errors=True)


def main(
    seconds: int = 5, rounds: int = 3, connections: int = 32, oidc_dir: Path | None = None
) -> float:
    with server() as srv, _oidc_provider(oidc_dir) as (oidc_url, oidc_pid):
        client_id, secret = srv.create_credential("bench", ["workflows", "nql"])
        ours = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode(),
        }
        theirs = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Basic "
            + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode(),
        }
        token_url = f"{srv.url}/oauth2/default/v1/token"
        for url, headers in ((token_url, ours), (oidc_url, theirs)):
            run_wrk("warm-up", url, method="POST", body=BODY, headers=headers, seconds=2)
        post = partial(run_wrk, method="POST", body=BODY, seconds=seconds, connections=connections)
        credgate, node = alternate(
            rounds,
            partial(post, "credgate token endpoint", token_url, headers=ours, pid=srv.pid),
            partial(post, "node-oidc-provider /token", oidc_url, headers=theirs, pid=oidc_pid),
        )
    ours_rps, theirs_rps = medians(credgate, node)
    ratio = ours_rps / theirs_rps
    print(
        f"\ncredgate tokens/s (median) {ours_rps:,.0f}   oidc-provider (median) {theirs_rps:,.0f}"
    )
    print(
        f"ratio credgate/oidc-provider = {ratio:.2f}   target >= {TARGET}   {verdict(ratio, TARGET)}"
    )
    ours_cpu = [r.cpu_us_per_request for r in credgate if r.cpu_us_per_request is not None]
    theirs_cpu = [r.cpu_us_per_request for r in node if r.cpu_us_per_request is not None]
    if ours_cpu and theirs_cpu:
        # CPU per token moves far less with a busy machine than tokens per second do.
        ours_us, theirs_us = statistics.median(ours_cpu), statistics.median(theirs_cpu)
        print(
            f"server CPU per token (median): credgate {ours_us:.1f} us   oidc-provider "
            f"{theirs_us:.1f} us   ratio {theirs_us / ours_us:.2f}"
        )
    warn_failures([*credgate, *node])
    return ratio


def cli() -> None:
    parser = options(__doc__, seconds=5, rounds=3, connections=32)
    parser.add_argument("--oidc-dir", type=Path, default=None, help="Reuse this npm directory.")
    main(**vars(parser.parse_args()))


if __name__ == "__main__":
    cli()
