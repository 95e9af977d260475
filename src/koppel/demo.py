"""``koppel demo``: the whole story on one machine, nothing but loopback.

Starts a mail catcher (real SMTP), koppel on a fresh SQLite database, and prints where to go.
The simulator and the sample host app join the stack as they become available (see
``DemoStack.start``). ``--no-wait`` checks everything starts, prints, and stops again: the
test suite runs the demo that way.
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from koppel.demo_stack import MailCatcher, free_port, process, python, wait_until_ready


@dataclass
class DemoStack:
    data_dir: Path
    port: int
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
        koppel = self.stack.enter_context(
            process(
                [python(), "-m", "koppel", "serve", "--port", str(self.port)],
                env=self.env(),
                log=self.data_dir / "logs" / "koppel.log",
            )
        )
        wait_until_ready(f"{self.koppel_url}/readyz", child=koppel)
        self.info.update(
            koppel=self.koppel_url,
            api_docs=f"{self.koppel_url}/docs",
            mail_folder=str(self.data_dir / "mail"),
            logs=str(self.data_dir / "logs"),
        )
        return self.info

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
