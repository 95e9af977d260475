"""`koppel demo --no-wait` starts the whole stack, reports where to go, and stops it again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx


def test_demo_starts_and_reports_where_to_go(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "koppel",
            "demo",
            "--no-wait",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    info = json.loads(out.stdout)
    assert info["koppel"].startswith("http://127.0.0.1:")
    assert (tmp_path / "logs" / "koppel.log").exists()
    # everything the demo started is stopped again
    try:
        httpx.get(info["koppel"] + "/healthz", timeout=2)
        raise AssertionError("koppel is still running after the demo ended")
    except httpx.ConnectError:
        pass
