"""Running the simulator: a trustme CA for HTTPS and uvicorn on a pre-bound socket (``--port 0`` works).

MSAL and azure-identity accept only ``https://`` authorities (spec §9.1), so ``--tls`` makes a throwaway CA and a
server certificate for ``localhost``/``127.0.0.1``/``::1`` and writes the CA bundle where clients can trust it via
``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import trustme
import uvicorn
from fastapi import FastAPI

TLS_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    ca_bundle: Path
    cert_chain: Path
    private_key: Path


def make_tls(directory: Path | None = None) -> TlsFiles:
    """A fresh CA and a server certificate signed by it, as PEM files in ``directory`` (a temp dir by default)."""
    directory = directory or Path(tempfile.mkdtemp(prefix="entra-simulator-tls-"))
    ca = trustme.CA(organization_name="Entra ID simulator (local test CA)")
    cert = ca.issue_cert(*TLS_NAMES)
    files = TlsFiles(directory / "ca.pem", directory / "server-chain.pem", directory / "server-key.pem")
    ca.cert_pem.write_to_path(str(files.ca_bundle))
    cert.private_key_pem.write_to_path(str(files.private_key))
    with files.cert_chain.open("wb") as out:
        for blob in cert.cert_chain_pems:
            out.write(blob.bytes())
    return files


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def public_url(host: str, sock: socket.socket, tls: bool) -> str:
    shown = "localhost" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{'https' if tls else 'http'}://{shown}:{sock.getsockname()[1]}"


class RunningServer:
    """uvicorn serving ``app`` in a background thread; :meth:`stop` shuts it down."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0, tls: TlsFiles | None = None) -> None:
        self.tls = tls
        self.socket = bind(host, port)
        self.url = public_url(host, self.socket, tls is not None)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            ssl_certfile=str(tls.cert_chain) if tls else None,
            ssl_keyfile=str(tls.private_key) if tls else None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def start(self, timeout: float = 15.0) -> RunningServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the simulator did not start on {self.url}")
            time.sleep(0.01)
        return self

    def wait(self) -> None:
        while self.thread.is_alive():
            self.thread.join(0.5)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()
