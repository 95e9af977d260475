"""Benchmark: complete SSO logins through simulator + koppel + sample host app on loopback (issue 5 §9).

    .venv/bin/python bench/sso/run.py --logins 600 --workers 8

Starts the demo stack (simulator over HTTPS, koppel on SQLite, the example host app, each its own
process), then each worker is a browser: host ``/login?organization=contoso`` → koppel authorize →
simulator (password once per browser, then its session cookie, as in real life) → koppel callback
(code redemption + ID-token validation upstream) → host ``/callback`` (code redemption at koppel,
ID-token validation with Authlib) → host page with the user's name. Reported: logins/s, koppel's own
CPU ms per login (user+system of its process, psutil), and the callback's latency p50/p99 as the
browser sees it.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from koppel.demo import DemoStack
from koppel.demo_stack import free_port


def login(browser: httpx.Client, host: str, user: str, password: str, callback_times: list[float]) -> None:
    url = f"{host}/login?organization=contoso"
    for _ in range(20):
        started = time.perf_counter()
        response = browser.get(url)
        if "/sso/callback/" in url:
            callback_times.append(time.perf_counter() - started)
        if response.is_redirect:
            url = str(response.url.join(response.headers["location"]))
            continue
        if 'name="passwd"' in response.text:  # the simulated Microsoft sign-in page
            ctx = response.text.split('name="ctx" value="', 1)[1].split('"', 1)[0]
            action = str(response.url.join(response.text.split('action="', 1)[1].split('"', 1)[0]))
            response = browser.post(action, data={"ctx": ctx, "login": user, "passwd": password})
            url = str(response.url.join(response.headers["location"]))
            continue
        assert "Welcome" in response.text, response.text[:300]
        return
    raise RuntimeError("login did not finish")


def run(logins: int, workers: int, profile: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        stack = DemoStack(data_dir=Path(tmp), port=free_port())
        try:
            info = stack.start()
            koppel = psutil.Process(stack.koppel_pid)
            verify = str(Path(tmp) / "tls" / "ca.pem")
            callback_times: list[float] = []
            browsers = [httpx.Client(verify=verify, timeout=30) for _ in range(workers)]
            for b in browsers:  # warm-up: one login each (password, keys, discovery caches)
                login(b, info["host_app"], info["sign_in_as"], info["password"], [])
            per_worker = logins // workers
            spy = _py_spy(stack.koppel_pid, profile) if profile else None
            requests_before = _requests_by_route(info["koppel"])
            times_before = koppel.cpu_times()
            cpu_before = sum(times_before[:2])
            started = time.perf_counter()
            threads = [
                threading.Thread(
                    target=lambda b=b: [
                        login(b, info["host_app"], info["sign_in_as"], info["password"], callback_times)
                        for _ in range(per_worker)
                    ]
                )
                for b in browsers
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
            times_after = koppel.cpu_times()
            cpu = sum(times_after[:2]) - cpu_before
            system = times_after.system - times_before.system
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            done = per_worker * workers
            requests_after = _requests_by_route(info["koppel"])
            per_login = {
                route: round((n - requests_before.get(route, 0)) / done, 2)
                for route, n in sorted(requests_after.items())
                if n - requests_before.get(route, 0) >= done / 10
            }
            ordered = sorted(callback_times)
            return {
                "logins": done,
                "workers": workers,
                "seconds": round(elapsed, 2),
                "logins_per_second": round(done / elapsed, 1),
                "koppel_cpu_ms_per_login": round(cpu * 1000 / done, 2),
                "koppel_cpu_ms_per_login_system": round(system * 1000 / done, 2),
                "callback_p50_ms": round(statistics.median(ordered) * 1000, 1),
                "callback_p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1),
                "cpus": psutil.cpu_count(),
                "koppel_requests_per_login": per_login,
            }
        finally:
            stack.close()


def _requests_by_route(koppel_url: str) -> dict[str, float]:
    """koppel's own request counter (``/metrics``), summed per route over methods and statuses."""
    counts: dict[str, float] = {}
    for line in httpx.get(f"{koppel_url}/metrics").text.splitlines():
        if line.startswith("koppel_http_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            route = labels.split('route="', 1)[1].split('"', 1)[0]
            counts[route] = counts.get(route, 0) + float(value)
    return counts


def _py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """Sample koppel while the logins run (``pip install py-spy``; a speedscope or flamegraph file)."""
    fmt = {".json": "speedscope", ".svg": "flamegraph"}.get(out.suffix, "raw")  # raw: collapsed stacks
    args = ["py-spy", "record", "--pid", str(pid), "--gil", "--rate", "200", "--format", fmt, "--output", str(out)]
    spy = subprocess.Popen([str(Path(sys.executable).parent / args[0]), *args[1:]], stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches before the first login
    return spy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=600)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--profile", type=Path, help="py-spy koppel into this file (.svg, .json speedscope, else collapsed)"
    )
    args = parser.parse_args()
    print(json.dumps(run(args.logins, args.workers, args.profile), indent=2))


if __name__ == "__main__":
    main()
