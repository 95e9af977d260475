"""Benchmark: complete SSO logins through simulator + koppel + sample host app on loopback (issue 5 §9).

    .venv/bin/python bench/sso/run.py --logins 600 --workers 8

Starts the demo stack (simulator over HTTPS, koppel on SQLite, the example host app, each its own
process), then each worker is a browser: host ``/login?organization=contoso`` → koppel authorize →
simulator (password once per browser, then its session cookie, as in real life) → koppel callback
(code redemption + ID-token validation upstream) → host ``/callback`` (code redemption at koppel,
ID-token validation with Authlib) → host page with the user's name. Reported: logins/s, koppel's own
CPU ms per login (user+system of its process and workers, psutil), the callback's latency p50/p99
as the browser sees it, koppel's requests per login, and the CPU of the other processes. Options:
``--koppel-workers N`` (uvicorn workers), ``--host-certifi``, ``--profile FILE`` (py-spy); see README.md.
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

from koppel import demo
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


def _adjust_processes(koppel_workers: int, host_small_ca: bool) -> None:
    """How the stack's processes start: koppel as ``uvicorn --workers N`` instead of ``koppel serve``
    (one process); the host app trusting the demo's CA file, as koppel does, instead of certifi's
    bundle: Authlib's Starlette client builds a new httpx client, so a new TLS context, for every
    token request, and loading certifi's ~150 roots costs ~18 ms of CPU each time."""
    original = demo.process

    def process(args: list[str], **kwargs: Any) -> Any:
        if host_small_ca and any(a.endswith("host_app.py") for a in args):
            kwargs["env"] = {**kwargs["env"], "SSL_CERT_FILE": str(kwargs["log"].parent.parent / "tls" / "ca.pem")}
        if koppel_workers > 1 and args[1:4] == ["-m", "koppel", "serve"]:
            subprocess.run([args[0], "-m", "koppel", "db", "upgrade"], env=kwargs["env"], check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            env = {**kwargs["env"], "PYTHONPATH": str(Path(__file__).parent)}
            args = [args[0], "-m", "uvicorn", "--factory", "asgi:create", "--workers", str(koppel_workers),
                    "--port", args[args.index("--port") + 1], "--no-access-log"]  # fmt: skip
            kwargs["env"] = env
        return original(args, **kwargs)

    demo.process = process  # type: ignore[assignment]


def _cpu_seconds(koppel: psutil.Process) -> tuple[float, float]:
    """(user+system, system) of koppel's process and its worker processes."""
    total = system = 0.0
    for p in [koppel, *koppel.children(recursive=True)]:
        times = p.cpu_times()
        total, system = total + times.user + times.system, system + times.system
    return total, system


def _cpu_by_process(koppel: psutil.Process) -> dict[str, float]:
    """CPU seconds of the other processes on the box's budget: simulator, host app, this driver."""
    mine = {p.pid for p in [koppel, *koppel.children(recursive=True)]}
    out = {"driver": sum(psutil.Process().cpu_times()[:2])}
    for child in psutil.Process().children(recursive=True):
        if child.pid in mine:
            continue
        line = " ".join(child.cmdline())
        name = "simulator" if "simulator" in line else "host_app" if "host_app" in line else None
        if name:
            out[name] = out.get(name, 0.0) + sum(child.cpu_times()[:2])
    return out


def run(
    logins: int, workers: int, profile: Path | None = None, koppel_workers: int = 1, host_small_ca: bool = True
) -> dict[str, Any]:
    _adjust_processes(koppel_workers, host_small_ca)
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
            others_before = _cpu_by_process(koppel)
            cpu_before, system_before = _cpu_seconds(koppel)
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
            cpu_after, system_after = _cpu_seconds(koppel)
            others = {k: round((v - others_before.get(k, 0.0)) * 1000 / (per_worker * workers), 2)
                      for k, v in _cpu_by_process(koppel).items()}  # fmt: skip
            cpu, system = cpu_after - cpu_before, system_after - system_before
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            done = per_worker * workers
            requests_after = _requests_by_route(info["koppel"])
            per_login = {  # /metrics is per process: counted only when koppel runs as one
                route: round((n - requests_before.get(route, 0)) / done, 2)
                for route, n in sorted(requests_after.items())
                if n - requests_before.get(route, 0) >= done / 10 and koppel_workers == 1
            }
            ordered = sorted(callback_times)
            return {
                "logins": done,
                "workers": workers,
                "koppel_workers": koppel_workers,
                "host_app_ca": "demo CA file" if host_small_ca else "certifi bundle",
                "seconds": round(elapsed, 2),
                "logins_per_second": round(done / elapsed, 1),
                "koppel_cpu_ms_per_login": round(cpu * 1000 / done, 2),
                "koppel_cpu_ms_per_login_system": round(system * 1000 / done, 2),
                "callback_p50_ms": round(statistics.median(ordered) * 1000, 1),
                "callback_p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1),
                "cpus": psutil.cpu_count(),
                "koppel_requests_per_login": per_login,
                "cpu_ms_per_login_elsewhere": others,
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
    parser.add_argument("--koppel-workers", type=int, default=1, help="uvicorn worker processes for koppel")
    parser.add_argument(
        "--host-certifi",
        action="store_true",
        help="host app loads certifi's CA bundle per token request (default of its client)",
    )
    args = parser.parse_args()
    result = run(args.logins, args.workers, args.profile, args.koppel_workers, not args.host_certifi)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
