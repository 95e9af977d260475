"""Benchmark: complete SSO logins through simulator + koppel + sample host app on loopback (issue 5 §9).

    .venv/bin/python bench/sso/run.py --logins 600 --workers 8

Starts the demo stack (simulator over HTTPS, koppel on SQLite, the example host app, each its own
process), then each worker is a browser: host ``/login?organization=contoso`` → koppel authorize →
simulator (password once per browser, then its session cookie, as in real life) → koppel callback
(code redemption + ID-token validation upstream) → host ``/callback`` (code redemption at koppel,
ID-token validation with Authlib) → host page with the user's name. Reported: logins/s, koppel's own
CPU ms per login (user+system of its process and workers, psutil), the callback's latency p50/p99
as the browser sees it, koppel's requests per login, and the CPU of the other processes. Options:
``--koppel-workers N`` (uvicorn workers), ``--profile FILE`` (py-spy); see README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil
import uvloop
from yarl import URL

from koppel import demo
from koppel.demo import DemoStack
from koppel.demo_stack import free_port


async def login(
    browser: aiohttp.ClientSession, host: str, user: str, password: str, callback_times: list[float]
) -> None:
    """One complete login as a browser does it: every redirect followed, cookies kept per browser."""
    url = URL(f"{host}/login?organization=contoso")
    for _ in range(20):
        started = time.perf_counter()
        async with browser.get(url, allow_redirects=False) as response:
            text = await response.text()
        if url.path.startswith("/sso/callback/"):
            callback_times.append(time.perf_counter() - started)
        if 300 <= response.status < 400:
            url = url.join(URL(response.headers["Location"], encoded=True))
            continue
        if 'name="passwd"' in text:  # the simulated Microsoft sign-in page
            ctx = text.split('name="ctx" value="', 1)[1].split('"', 1)[0]
            action = url.join(URL(text.split('action="', 1)[1].split('"', 1)[0], encoded=True))
            form = {"ctx": ctx, "login": user, "passwd": password}
            async with browser.post(action, data=form, allow_redirects=False) as posted:
                url = action.join(URL(posted.headers["Location"], encoded=True))
            continue
        assert response.status == 200 and "Welcome" in text, text[:300]
        return
    raise RuntimeError("login did not finish")


def _adjust_processes(koppel_workers: int) -> None:
    """koppel as ``uvicorn --workers N`` instead of ``koppel serve`` (one process)."""
    original = demo.process

    def process(args: list[str], **kwargs: Any) -> Any:
        if koppel_workers > 1 and args[1:4] == ["-m", "koppel", "serve"]:
            subprocess.run([args[0], "-m", "koppel", "db", "upgrade"], env=kwargs["env"], check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            paths = [str(Path(__file__).parent), *filter(None, [kwargs["env"].get("PYTHONPATH")])]
            env = {**kwargs["env"], "PYTHONPATH": os.pathsep.join(paths)}
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


def _event_loop_cpu_seconds(koppel: psutil.Process) -> float:
    """user+system of the main thread (the event loop) of koppel's process, or of its workers."""
    procs = koppel.children(recursive=True) or [koppel]
    return sum(t.user_time + t.system_time for p in procs for t in p.threads() if t.id == p.pid)


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
    logins: int, workers: int, profile: Path | None = None, koppel_workers: int = 1, id_token_alg: str = "RS256"
) -> dict[str, Any]:
    _adjust_processes(koppel_workers)
    with tempfile.TemporaryDirectory() as tmp:
        stack = DemoStack(data_dir=Path(tmp), port=free_port(), id_token_alg=id_token_alg)
        try:
            info = stack.start()
            tls = ssl.create_default_context(cafile=str(Path(tmp) / "tls" / "ca.pem"))
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                result = runner.run(_drive(stack, info, tls, logins // workers, workers, profile))
            return {"koppel_workers": koppel_workers, "id_token_alg": id_token_alg, **result}
        finally:
            stack.close()


async def _drive(
    stack: DemoStack, info: dict[str, Any], tls: ssl.SSLContext, per_browser: int, workers: int, profile: Path | None
) -> dict[str, Any]:
    """``workers`` browsers, each its own cookie jar and kept-alive connections, log in ``per_browser`` times."""
    koppel = psutil.Process(stack.koppel_pid)
    callback_times: list[float] = []
    jars = [aiohttp.CookieJar(unsafe=True) for _ in range(workers)]  # unsafe: cookies for 127.0.0.1 too
    browsers = [aiohttp.ClientSession(cookie_jar=jar, connector=aiohttp.TCPConnector(ssl=tls)) for jar in jars]

    async def browse(browser: aiohttp.ClientSession, times: int, into: list[float]) -> None:
        for _ in range(times):
            await login(browser, info["host_app"], info["sign_in_as"], info["password"], into)

    try:
        # warm-up: one login each (password, keys, discovery caches)
        await asyncio.gather(*(browse(b, 1, []) for b in browsers))
        reference_before = _reference_ms()
        spy = _py_spy(stack.koppel_pid, profile) if profile else None
        requests_before = _requests_by_route(info["koppel"])
        others_before = _cpu_by_process(koppel)
        cpu_before, system_before = _cpu_seconds(koppel)
        loop_before = _event_loop_cpu_seconds(koppel)
        started = time.perf_counter()
        await asyncio.gather(*(browse(b, per_browser, callback_times) for b in browsers))
        elapsed = time.perf_counter() - started
        cpu_after, system_after = _cpu_seconds(koppel)
        loop_after = _event_loop_cpu_seconds(koppel)
        done = per_browser * workers
        others = {
            k: round((v - others_before.get(k, 0.0)) * 1000 / done, 2) for k, v in _cpu_by_process(koppel).items()
        }
        reference_after = _reference_ms()  # after the driver's own CPU was read
    finally:
        await asyncio.gather(*(b.close() for b in browsers))
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
    requests_after = _requests_by_route(info["koppel"])
    per_login = {  # /metrics is per process: counted only when koppel runs as one
        route: round((n - requests_before.get(route, 0)) / done, 2)
        for route, n in sorted(requests_after.items())
        if n - requests_before.get(route, 0) >= done / 10 and not koppel.children()
    }
    ordered = sorted(callback_times)
    cpu, system = cpu_after - cpu_before, system_after - system_before
    return {
        "logins": done,
        "workers": workers,
        "seconds": round(elapsed, 2),
        "logins_per_second": round(done / elapsed, 1),
        "koppel_cpu_ms_per_login": round(cpu * 1000 / done, 2),
        "koppel_cpu_ms_per_login_system": round(system * 1000 / done, 2),
        "koppel_cpu_ms_per_login_event_loop": round((loop_after - loop_before) * 1000 / done, 2),
        "callback_p50_ms": round(statistics.median(ordered) * 1000, 1),
        "callback_p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1),
        "cpus": psutil.cpu_count(),
        "load_average_1min": round(psutil.getloadavg()[0], 2),
        "reference_cpu_ms": [reference_before, reference_after],
        "koppel_requests_per_login": per_login,
        "cpu_ms_per_login_elsewhere": others,
    }


def _reference_ms() -> float:
    """CPU ms of a fixed pure-Python loop, before and after the run: how fast the shared box was
    (the same loop took 100 to 160 ms here as other machines' load came and went)."""
    started = time.process_time()
    total = 0
    for i in range(2_000_000):
        total += i
    return round((time.process_time() - started) * 1000, 1)


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
        "--id-token-alg", choices=["RS256", "ES256"], default="RS256", help="the host app's client's token signatures"
    )
    args = parser.parse_args()
    result = run(args.logins, args.workers, args.profile, args.koppel_workers, args.id_token_alg)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
