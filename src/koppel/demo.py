"""``koppel demo``: the whole story on one machine, nothing but loopback.

Starts a mail catcher (real SMTP), koppel on a fresh SQLite database, and prints where to go.
The simulator and the sample host app join the stack as they become available (see
``DemoStack.start``). ``--no-wait`` checks everything starts, prints, and stops again: the
test suite runs the demo that way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from koppel.clikit import Runtime
from koppel.demo_setup import ORG_SLUG, DemoConfig, configure
from koppel.demo_stack import MailCatcher, free_port, process, python, read_json_line, wait_until_ready
from koppel.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass
class DemoStack:
    data_dir: Path
    port: int
    id_token_alg: str = "RS256"  # the host app's client (bench/sso measures both)
    stack: ExitStack = field(default_factory=ExitStack)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def koppel_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KOPPEL_")}
        env.update(
            KOPPEL_DATA_DIR=str(self.data_dir / "koppel"),
            KOPPEL_BASE_URL=self.koppel_url,
            KOPPEL_SMTP_PORT=str(self.mail.port),
            KOPPEL_SMTP_FROM="koppel-demo@localhost",
        )
        env.update(extra)
        return env

    def start(self) -> dict[str, Any]:
        self.mail = self.stack.enter_context(MailCatcher(self.data_dir / "mail"))
        simulator, seed = self._simulator()
        host_port = free_port()
        host_url = f"http://127.0.0.1:{host_port}"
        config = self._configure(simulator, seed, host_url)
        # koppel trusts the simulator's local CA the way any httpx/requests client does
        tls_env = {"SSL_CERT_FILE": simulator["ca_bundle"], "REQUESTS_CA_BUNDLE": simulator["ca_bundle"]}
        koppel = self.stack.enter_context(
            process(
                [python(), "-m", "koppel", "serve", "--port", str(self.port)],
                env=self.env(**tls_env),
                log=self.data_dir / "logs" / "koppel.log",
            )
        )
        wait_until_ready(f"{self.koppel_url}/readyz", child=koppel)
        self.koppel_pid = koppel.pid  # bench/sso measures koppel's own CPU from its process
        host = self.stack.enter_context(
            process(
                [python(), str(EXAMPLES / "host_app.py")],
                env=self.env(
                    KOPPEL_ISSUER=self.koppel_url, HOST_CLIENT_ID=config.client_id,
                    HOST_CLIENT_SECRET=config.client_secret, HOST_PORT=str(host_port),
                ),
                log=self.data_dir / "logs" / "host_app.log",
            )
        )  # fmt: skip
        wait_until_ready(host_url, child=host)
        user = seed["tenants"][0]["users"][1]
        self.info.update(
            host_app=host_url,
            koppel=self.koppel_url,
            entry_link=f"{self.koppel_url}/sso/{ORG_SLUG}",
            sign_in_as=user["userPrincipalName"],
            password=user["password"],
            simulator=simulator["url"],
            api_docs=f"{self.koppel_url}/docs",
            mail_folder=str(self.data_dir / "mail"),
            logs=str(self.data_dir / "logs"),
        )
        return self.info

    def _simulator(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """A generated sample tenant served over HTTPS (Microsoft's clients insist on TLS)."""
        seed_file = self.data_dir / "tenant.json"
        with seed_file.open("w") as out:
            generate = ["simulator", "generate", "--users", "25", "--groups", "8", "--format", "json"]
            subprocess.run([python(), "-m", "koppel", *generate], stdout=out, check=True, env=self.env())
        child, ready = read_json_line(
            [python(), "-m", "koppel", "simulator", "serve", "--seed", str(seed_file), "--tls", "--port", "0",
             "--tls-dir", str(self.data_dir / "tls"), "--json"],
            env=self.env(), log=self.data_dir / "logs" / "simulator.log",
        )  # fmt: skip
        self.stack.callback(_stop, child)
        return ready, json.loads(seed_file.read_text())

    def _configure(self, simulator: dict[str, Any], seed: dict[str, Any], host_url: str) -> DemoConfig:
        settings = Settings(data_dir=self.data_dir / "koppel", base_url=self.koppel_url).resolved()
        config = configure(
            Runtime(settings), simulator=simulator, seed=seed, host_url=host_url, id_token_alg=self.id_token_alg
        )
        app_id = seed["tenants"][0]["applications"][0]["appId"]
        # What the admin does in the Entra portal: add koppel's redirect URI to the app registration.
        httpx.post(
            f"{simulator['url']}/_simulator/apps/{app_id}/redirect-uris",
            json={"uri": f"{self.koppel_url}/sso/callback/{config.connection_id}"},
            verify=simulator["ca_bundle"],
        ).raise_for_status()
        return config

    def close(self) -> None:
        self.stack.close()


def run(*, data_dir: Path, port: int | None, wait: bool) -> dict[str, Any]:
    if data_dir.exists():
        shutil.rmtree(data_dir)  # every demo starts from a clean tenant and database
    data_dir.mkdir(parents=True)
    demo = DemoStack(data_dir=data_dir, port=port or free_port())
    try:
        info = demo.start()
        if wait:
            _print_story(info)
            while True:
                time.sleep(3600)
        return info
    except KeyboardInterrupt:
        return demo.info
    finally:
        demo.close()


def _print_story(info: dict[str, Any]) -> None:
    from rich.console import Console

    console = Console()
    console.rule("[bold]koppel demo")
    for key, value in info.items():
        console.print(f"[bold]{key.replace('_', ' ')}[/bold]: {value}")
    console.print("\nPress Ctrl-C to stop.")


def _stop(child: subprocess.Popen[bytes]) -> None:
    child.terminate()
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
