"""The built book's widgets work with no kernel and no network (headless Chromium).

Runs when MMPROMPTS_BOOK_HTML names a built book (`.ci/run` sets it after
`python -m mmprompts book`); needs Debian's `chromium` and the `playwright` package.
"""
from __future__ import annotations

import os

import pytest

BOOK = os.environ.get("MMPROMPTS_BOOK_HTML")
pytestmark = pytest.mark.skipif(not BOOK, reason="set MMPROMPTS_BOOK_HTML to a built book (python -m mmprompts book)")
PAGES = ["book/executed/01_zero_shot.html", "book/executed/05_vision_prompts.html"]


# The views shown by the widget that holds the first slider (a page may hold several widgets).
_VISIBLE_IMAGES = """() => Array.from(document.querySelector('.noUi-handle').closest('.widget-vbox').querySelectorAll('img'))
    .filter(img => img.offsetParent !== null && img.getBoundingClientRect().width > 0)
    .map(img => img.src.slice(-200))"""


@pytest.mark.parametrize("path", PAGES)
def test_slider_switches_the_view_offline(server, open_page, path):
    page, failed, remote = open_page()
    page.goto(f"{server}/{path}", wait_until="networkidle")
    page.wait_for_selector(".jupyter-widgets .noUi-handle", timeout=15000)
    before = page.evaluate(_VISIBLE_IMAGES)
    assert len(before) == 1, f"expected exactly one visible view, saw {len(before)}"
    handle = page.locator(".jupyter-widgets .noUi-handle").first
    handle.focus()
    handle.press("ArrowRight")
    page.wait_for_timeout(300)
    after = page.evaluate(_VISIBLE_IMAGES)
    assert len(after) == 1 and after != before, "moving the slider did not change the shown view"
    assert not failed, f"failed requests: {failed}"
    assert not remote, f"requests that leave the book: {remote}"
    page.close()
