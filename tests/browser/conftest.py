"""The built book served over HTTP on localhost, and headless Debian chromium (never a downloaded browser)."""
from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("MMPROMPTS_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def book() -> Path:
    root = Path(os.environ["MMPROMPTS_BOOK_HTML"])
    assert (root / "index.html").is_file(), f"no built book in {root}: run python -m mmprompts book first"
    return root


@pytest.fixture(scope="session")
def server(book):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright hides scroll bars in headless mode; a reader sees them (and the tests check them)
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, ignore_default_args=["--hide-scrollbars"], args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def open_page(server, browser):
    """open_page(**options) -> (page, failed, remote): a new page that records the requests that fail
    and those that leave the book (anything but the book's server and inline data)."""
    def opened(**options):
        page = browser.new_page(**options)
        failed, remote = [], []
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.on("request", lambda request: remote.append(request.url)
                if not request.url.startswith((server, "data:", "blob:", "about:")) else None)
        return page, failed, remote
    return opened
