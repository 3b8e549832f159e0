"""Token endpoint with clients this node has never seen, against the same clients once cached.

Each round writes ``clients`` new API credentials straight to the database of a running server,
then wrk asks tokens for them for ``seconds``, each client once (cold: every request misses the
client cache), and then for the same clients for as long again (hot). The ratio of the medians
is printed. Target: cold tokens/s >= 0.5 x hot tokens/s.

wrk always runs for its whole duration, so the cold run must not run out of clients: when it
does, the clients are too few for the rate, the figure is too low, and a warning says so.
"""

from __future__ import annotations

import base64

from credgate.bench._harness import (
    LoadResult,
    medians,
    options,
    run_wrk_script,
    server,
    verdict,
    warn_failures,
)

BODY = "grant_type=client_credentials&scope=service%3Aintegration"
TARGET = 0.5

_LUA = """
local auth = {{ {headers} }}
local n = #auth
local sent, answered, stop_after = 0, 0, {stop_after}
request = function()
  sent = sent % n + 1
  return wrk.format("POST", nil, {{
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = auth[sent],
  }}, "{body}")
end
response = function(status, headers, body)
  answered = answered + 1
  if stop_after > 0 and answered >= stop_after then wrk.thread:stop() end
end
"""


def _script(pairs: list[tuple[str, str]], *, once: bool) -> str:
    headers = ",".join(
        '"Basic ' + base64.b64encode(f"{c}:{s}".encode()).decode() + '"' for c, s in pairs
    )
    return _LUA.format(headers=headers, stop_after=len(pairs) if once else 0, body=BODY)


def main(clients: int = 10_000, rounds: int = 3, seconds: int = 5, connections: int = 32) -> float:
    cold: list[LoadResult] = []
    hot: list[LoadResult] = []
    with server() as srv:
        url = f"{srv.url}/oauth2/default/v1/token"
        warm = srv.seed_credentials("warm-up", 100, ["workflows"])
        run_wrk_script("warm-up", url, _script(warm, once=False), seconds=2)

        def measure(name: str, pairs: list[tuple[str, str]], *, once: bool) -> LoadResult:
            script = _script(pairs, once=once)
            return run_wrk_script(name, url, script, seconds=seconds, connections=connections)

        for round_ in range(rounds):
            pairs = srv.seed_credentials(f"cold {round_}", clients, ["workflows", "nql"])
            cold.append(measure(f"{clients:,} never-seen clients", pairs, once=True))
            hot.append(measure(f"the same {clients:,}, cached", pairs, once=False))
    cold_rps, hot_rps = medians(cold, hot)
    ratio = cold_rps / hot_rps
    print(f"\ncold tokens/s (median) {cold_rps:,.0f}   hot tokens/s (median) {hot_rps:,.0f}")
    print(f"ratio cold/hot = {ratio:.3f}   target >= {TARGET}   {verdict(ratio, TARGET)}")
    if any(r.requests_per_second * seconds >= clients * 0.95 for r in cold):
        print(f"WARNING: a cold run used up its {clients:,} clients; give more with --clients")
    warn_failures([*cold, *hot], "token responses")
    return ratio


def cli() -> None:
    main(**vars(options(__doc__, clients=10_000, rounds=3, seconds=5).parse_args()))


if __name__ == "__main__":
    cli()
