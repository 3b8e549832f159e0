"""A recording HTTP receiver on 127.0.0.1 for the webhook tests (a real server, in a thread)."""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme

CA = trustme.CA()
CERT = CA.issue_cert("127.0.0.1")


def ca_bundle(directory: Path) -> Path:
    """The test CA's certificate as a PEM file (what ``outbound_ca_bundle`` names)."""
    path = directory / "receiver-ca.pem"
    CA.cert_pem.write_to_path(str(path))
    return path


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each request with the next of ``script`` (status, headers, body), then 200."""

    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    delay: float = 0.0
    #: after this many answered requests, hold further ones until ``release`` is set
    hold_after: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    answered: list[str] = field(default_factory=list)
    #: TCP connections accepted, each with its own TLS handshake
    connections: int = 0

    def held(self) -> int:
        with self.lock:
            return len(self.requests) - len(self.answered)

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(
                        Received(
                            self.command,
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    status, headers, answer = (
                        receiver.script.pop(0) if receiver.script else (200, {}, b"ok")
                    )
                    hold = (
                        receiver.hold_after is not None
                        and len(receiver.answered) >= receiver.hold_after
                    )
                if hold:
                    receiver.release.wait(30)
                    return
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                self.wfile.flush()
                if status < 300:
                    with receiver.lock:
                        receiver.answered.append(self.headers.get("webhook-id", ""))

            do_POST = do_PUT = do_PATCH = _any  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # the default of 5 drops concurrent connects for a second

            def process_request(self, request: Any, client_address: Any) -> None:
                with receiver.lock:
                    receiver.connections += 1
                super().process_request(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        CERT.configure_cert(context)
        self.server.socket = context.wrap_socket(
            self.server.socket, server_side=True, do_handshake_on_connect=False
        )
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
