"""Processes the demo runs side by side: a mail catcher, the simulator, koppel, the host app.

Each runs as its own process on loopback (the mail catcher as a thread), exactly as a person
would run them by hand, and is stopped when the demo ends.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class MailCatcher:
    """A real SMTP server (aiosmtpd) that keeps every message and saves it as .eml."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.messages: list[Message] = []
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = message_from_bytes(raw)
        self.messages.append(message)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{len(self.messages):03d}.eml").write_bytes(raw)
        return "250 Message accepted for delivery"

    def __enter__(self) -> MailCatcher:
        self._controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._controller.stop()


@contextlib.contextmanager
def process(args: Sequence[str], *, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a child process with its output in ``log``; terminate it on exit."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        child = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()


def read_json_line(
    args: Sequence[str], *, env: dict[str, str], log: Path, timeout: float = 60
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Start a child that prints one JSON line once it is ready (``--json``); return it and the line."""
    log.parent.mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=log.open("wb"))
    assert child.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        with contextlib.suppress(ValueError):
            return child, json.loads(line)
    child.kill()
    raise RuntimeError(f"{args[0]} did not report ready; see {log}")


def wait_until_ready(url: str, *, verify: str | bool = True, timeout: float = 60, child: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited with status {child.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, verify=verify, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready within {timeout:.0f} s")


def python() -> str:
    return sys.executable
