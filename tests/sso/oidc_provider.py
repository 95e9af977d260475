"""node's ``oidc-provider`` (OpenID-certified, independent of koppel and the simulator) as a test IdP.

``npm ci`` installs it from the committed lock into ``.cache/oidc-provider`` once per lock file;
tests that need it are skipped, with the reason, when node or npm is missing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "oidc-provider"
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "oidc-provider"


def install() -> Path:
    """The installed fixture directory (``npm ci`` only when the lock file changed)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run oidc-provider (apt-get install nodejs npm)")
    lock = (FIXTURE / "package-lock.json").read_bytes()
    stamp = CACHE / ".lock-sha256"
    digest = hashlib.sha256(lock).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest or not (CACHE / "node_modules").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(FIXTURE / name, CACHE / name)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=CACHE, check=True, timeout=300)
        stamp.write_text(digest)
    shutil.copy(FIXTURE / "server.mjs", CACHE / "server.mjs")
    return CACHE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def oidc_provider(directory: Path, *, client: dict[str, Any], accounts: dict[str, dict[str, Any]]) -> Iterator[str]:
    """Start the provider on loopback; yields its issuer URL."""
    config = {"port": free_port(), "client": client, "accounts": accounts}
    process = subprocess.Popen(
        ["node", "server.mjs", json.dumps(config)], cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("oidc-provider did not start (run: node .cache/oidc-provider/server.mjs '{...}')")
        yield str(json.loads(line)["issuer"])
    finally:
        process.terminate()
        process.wait(10)
