"""Benchmark of the Entra ID simulator at scale (issue 3 §6).

Generates a tenant of 100,000 users and 1,000 groups, writes it as a seed file (JSON by default, ``--format
yaml`` for the YAML that ``simulator generate`` writes by default), starts ``python -m entra_simulator serve`` on
it in its own process (as a user would) and measures:

* generate: building the seed in memory; write: the seed file to disk;
* load: from starting the server process until it prints its ready line (Python start, seed parse, directory
  load, key generation, socket bound);
* RSS of the server process after load and its peak (VmHWM), via psutil / /proc;
* paging: ``/groups/{id}/members?$top=999`` through every member of the all-staff group (100,000 users) over
  real HTTP on loopback with one keep-alive client that parses every page and follows ``@odata.nextLink``.

Run: ``.venv/bin/python bench/simulator/bench_simulator.py`` (``--users``, ``--groups``, ``--rounds``,
``--format json|yaml``, ``--json`` for one machine-readable line). Needs nothing but loopback.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from entra_simulator.generate import Options, generate, to_yaml

ALL_STAFF = "Alle medewerkers"


def _peak_rss(pid: int) -> int:
    """VmHWM: the most resident memory the process ever had (Linux); 0 where /proc has no such line."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _start_server(seed_file: Path) -> tuple[subprocess.Popen[str], dict[str, Any], float]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "entra_simulator", "serve", "--seed", str(seed_file), "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        raise SystemExit("the simulator did not start; run the serve command by hand to see why")
    return process, json.loads(line), time.perf_counter() - started


def _token(http: httpx.Client, tenant: dict[str, Any]) -> str:
    app = tenant["apps"][0]
    form = {
        "grant_type": "client_credentials",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "scope": "https://graph.microsoft.com/.default",
    }
    response = http.post(f"/{tenant['id']}/oauth2/v2.0/token", data=form)
    response.raise_for_status()
    return str(response.json()["access_token"])


def _page_all(http: httpx.Client, url: str) -> tuple[int, int, float]:
    """Members seen, pages fetched and seconds taken to follow every nextLink from ``url``."""
    members = pages = 0
    started = time.perf_counter()
    next_url: str | None = url
    while next_url:
        response = http.get(next_url)
        response.raise_for_status()
        body = response.json()
        members += len(body["value"])
        pages += 1
        next_url = body.get("@odata.nextLink")
    return members, pages, time.perf_counter() - started


def run(users: int, groups: int, rounds: int, seed_format: str = "json") -> dict[str, Any]:
    figures: dict[str, Any] = {"users": users, "groups": groups, "format": seed_format}
    started = time.perf_counter()
    seed = generate(Options(users=users, groups=groups, seed_value=1))
    figures["generate_s"] = round(time.perf_counter() - started, 2)
    with tempfile.TemporaryDirectory(prefix="bench-simulator-") as tmp:
        seed_file = Path(tmp) / f"tenant.{seed_format}"
        started = time.perf_counter()
        text = to_yaml(seed) if seed_format == "yaml" else json.dumps(seed, ensure_ascii=False)
        seed_file.write_text(text, encoding="utf-8")
        figures["write_s"] = round(time.perf_counter() - started, 2)
        figures["seed_file_mb"] = round(seed_file.stat().st_size / 1e6, 1)
        del seed, text
        process, info, load_s = _start_server(seed_file)
    try:
        figures["load_s"] = round(load_s, 2)
        server = psutil.Process(process.pid)
        figures["rss_after_load_mb"] = round(server.memory_info().rss / 1e6)
        tenant = info["tenants"][0]
        group = next(g for g in tenant["groups"] if g["displayName"] == ALL_STAFF)
        with httpx.Client(base_url=info["url"], timeout=60) as http:
            http.headers["Authorization"] = f"Bearer {_token(http, tenant)}"
            url = f"/v1.0/groups/{group['id']}/members?$top=999"
            rates = []
            for _ in range(rounds):
                members, pages, seconds = _page_all(http, url)
                rates.append(members / seconds)
            figures.update(members=members, pages=pages, page_size=999)
            figures["members_per_s_best"] = round(max(rates))
            figures["members_per_s_median"] = round(statistics.median(rates))
            selected = f"{url}&$select=id,userPrincipalName,mail,displayName,accountEnabled,department"
            members, _, seconds = _page_all(http, selected)
            figures["members_per_s_with_select"] = round(members / seconds)
        figures["rss_after_paging_mb"] = round(server.memory_info().rss / 1e6)
        figures["rss_peak_mb"] = round(_peak_rss(process.pid) / 1e6)
    finally:
        process.terminate()
        process.wait(10)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3, help="full paging passes over the all-staff group")
    parser.add_argument("--format", choices=("json", "yaml"), default="json", help="seed file format")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    figures = run(args.users, args.groups, args.rounds, args.format)
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
