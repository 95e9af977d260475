"""The demo's story in a real browser (issue 5 §8): host app → koppel → simulator login → host app with roles.

Debian's /usr/bin/chromium driven by Playwright (never a downloaded browser); skipped with the reason
when it is absent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from koppel.demo import DemoStack
from koppel.demo_stack import free_port

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium at /usr/bin/chromium"),
]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[dict[str, Any]]:
    stack = DemoStack(data_dir=tmp_path, port=free_port())
    try:
        yield stack.start()
    finally:
        stack.close()


@pytest.fixture
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(ignore_https_errors=True)  # the simulator's throwaway local CA
        yield context.new_page()
        browser.close()


def test_a_person_signs_in_through_koppel_and_sees_their_organization_and_roles(
    demo: dict[str, Any], page: Any
) -> None:
    page.goto(demo["host_app"])
    page.click("#sign-in")
    page.fill("input[name=email]", demo["sign_in_as"])  # koppel's home-realm discovery page
    page.click("button[type=submit]")
    page.fill("input[name=passwd]", demo["password"])  # the simulated Microsoft sign-in
    page.click("#idSIButton9")
    page.wait_for_selector("#welcome")
    assert page.inner_text("#organization") == "Contoso Nederland"
    assert "employee" in page.inner_text("#roles")
    assert page.inner_text("#e-mail") == demo["sign_in_as"]

    # the entry link (app tile, seed 000 §3) lands in the host app signed in again
    page.click("text=Sign out")
    page.goto(demo["entry_link"])
    page.wait_for_selector("#welcome")
