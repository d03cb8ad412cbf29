"""A real headless browser for the report tests: Debian's chromium driven by Playwright (a test
tool's own browser download cannot be fetched here). ``.ci/run`` installs chromium and sets
``REQUIRE_BROWSER=1``, so in CI a missing browser fails; elsewhere the browser tests skip and say why."""

import contextlib
import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: as the machine's notes advise for a closed network: no background connections, a fresh profile
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_browser() -> None:
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"no browser at {CHROMIUM}: apt-get install chromium (REQUIRE_BROWSER is set)")
        pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium); .ci/run installs it and requires it")


@contextlib.contextmanager
def opened(path):
    """``(page, requests)``: the file at ``path`` loaded in headless chromium; ``requests`` lists
    every URL the page asked for beyond its own file and inline data (a self-contained page asks none)."""
    require_browser()
    from playwright.sync_api import sync_playwright
    requests = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda r: None if r.url.startswith(("data:", f"file://{path}")) else requests.append(r.url))
            page.on("dialog", lambda d: (requests.append(f"dialog: {d.message}"), d.dismiss()))
            page.goto(f"file://{path}")
            page.wait_for_load_state("load")
            yield page, requests
        finally:
            browser.close()
