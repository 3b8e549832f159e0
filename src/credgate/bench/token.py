"""Token endpoint throughput against a raw-ASGI echo of the same form body.

One server process; wrk drives the echo route and the token endpoint alternately (``rounds``
times each), and the ratio of the medians is printed. Target: tokens/s >= 0.3 x echo/s.
"""

from __future__ import annotations

import base64
from functools import partial

from credgate.bench._harness import alternate, medians, run_wrk, server, verdict, warn_failures

BODY = "grant_type=client_credentials&scope=service%3Aintegration"
TARGET = 0.3


def main(seconds: int = 5, rounds: int = 3, connections: int = 32) -> float:
    with server() as srv:
        client_id, secret = srv.create_credential("bench", ["workflows", "nql"])
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"Basic {basic}",
        }
        # Warm both paths (client cache, JIT-free but imports and pools).
        run_wrk(
            "warm-up",
            f"{srv.url}/oauth2/default/v1/token",
            method="POST",
            body=BODY,
            headers=headers,
            seconds=2,
        )
        post = partial(
            run_wrk,
            method="POST",
            body=BODY,
            headers=headers,
            seconds=seconds,
            connections=connections,
            pid=srv.pid,
        )
        echo, token = alternate(
            rounds,
            partial(post, "raw-ASGI echo (same body)", f"{srv.url}/_bench/echo"),
            partial(post, "POST /oauth2/default/v1/token", f"{srv.url}/oauth2/default/v1/token"),
        )
    echo_rps, token_rps = medians(echo, token)
    ratio = token_rps / echo_rps
    print(f"\ntokens/s (median) {token_rps:,.0f}   echo/s (median) {echo_rps:,.0f}")
    print(f"ratio tokens/echo = {ratio:.3f}   target >= {TARGET}   {verdict(ratio, TARGET)}")
    warn_failures(token, "token responses")
    return ratio


if __name__ == "__main__":
    main()
