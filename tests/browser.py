"""A real headless Chromium for the HTML tests (report, viewer, HTML formatter).

Needs Debian's ``chromium`` and Playwright's Python package (never ``playwright install``).
Without them the tests that use the ``browser`` fixture skip, unless
``CHAINSINK_REQUIRE_BROWSER=1`` (or ``CHAINSINK_STRICT=1``, as CI sets) makes them fail instead.
The fixture is registered in ``tests/conftest.py``, so every test module can ask for it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _unavailable(reason: str) -> None:
    if "1" in (os.environ.get("CHAINSINK_REQUIRE_BROWSER"), os.environ.get("CHAINSINK_STRICT")):
        pytest.fail(f"{reason} (CHAINSINK_REQUIRE_BROWSER/CHAINSINK_STRICT is set)")
    pytest.skip(f"{reason}: install it with `apt-get install chromium` (and the dev extra)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Debian Chromium driven by Playwright (per module: Playwright's sync API keeps
    an event loop running, which ``asyncio.run()`` in later tests must not meet)."""
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is missing")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()




class WatchedPage:
    """A fresh page of ``browser`` whose console errors, page errors, requests and dialogs
    (dismissed) are recorded; ``options`` go to ``browser.new_page``."""

    def __init__(self, browser: Any, **options: Any) -> None:
        self.page = browser.new_page(**options)
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def wait_until(self, expression: str, arg: Any = None, timeout: float = 30.0) -> None:
        """Poll ``expression`` (a JS expression, or a function of ``arg``) until it is truthy.

        Not ``page.wait_for_function``: that polls from the page's own timers, where a page
        whose Content-Security-Policy forbids eval (the report's, the live viewer's) can refuse
        the predicate (EvalError) when it is not true at once; each ``page.evaluate`` here is a
        DevTools call, which the policy does not govern."""
        deadline = time.monotonic() + timeout
        while not self.page.evaluate(expression, arg):
            if time.monotonic() > deadline:
                raise AssertionError(f"not true after {timeout} s: {expression}")
            time.sleep(0.05)

    def close(self) -> None:
        """Close the page."""
        self.page.close()
