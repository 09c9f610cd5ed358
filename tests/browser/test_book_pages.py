"""Every page of the built book as a reader sees it in headless Chromium, offline.

Runs when MMPROMPTS_BOOK_HTML names a built book (`.ci/run` sets it). Each page is loaded once;
its full-page screenshot goes to $MMPROMPTS_SCREENSHOTS (default `_build/screenshots`, not
committed) before anything is asserted, so a failure can be looked at.
"""
from __future__ import annotations

import json
import os
import re
import urllib.request
from pathlib import Path

import nbformat
import pytest

BOOK = os.environ.get("MMPROMPTS_BOOK_HTML")
pytestmark = pytest.mark.skipif(not BOOK, reason="set MMPROMPTS_BOOK_HTML to a built book (python -m mmprompts book)")
SCREENSHOTS = Path(os.environ.get("MMPROMPTS_SCREENSHOTS", "_build/screenshots"))

NOTEBOOK_PAGES = sorted(p.relative_to(BOOK).as_posix() for p in Path(BOOK).glob("book/executed/*.html")) if BOOK else []
PAGES = (["book/intro.html"] + NOTEBOOK_PAGES + ["book/bibliography.html"]) if BOOK else []

# A Markdown table's separator row printed as text instead of rendered (Sphinx's smart quotes turn
# its "---" into an em dash), and the separator rows in a notebook's Markdown outputs.
RAW_TABLE = re.compile(r"\|\s*:?(-{3,}|[—–]\s*\|)")
SEPARATOR_ROW = re.compile(r"^\s*\|?(\s*:?-{3,}:?\s*\|)+(\s*:?-{3,}:?\s*)?$", re.M)

# What the reader sees in the page's main column once the widgets have rendered.
_FACTS = """() => {
  const main = document.querySelector('main') || document.body;
  const shows = out => out.querySelector('img, .jupyter-widgets, script[type="application/vnd.jupyter.widget-view+json"]');
  const captioned = out => Array.from(out.querySelectorAll('figcaption')).some(f => f.innerText.trim().length > 0);
  return {
    text: main.innerText,
    tables: main.querySelectorAll('.cell_output table').length,
    figures: Array.from(main.querySelectorAll('.cell_output')).filter(shows).length,
    uncaptioned: Array.from(main.querySelectorAll('.cell_output')).filter(out => shows(out) && !captioned(out))
      .map(out => (out.closest('.cell') || out).innerText.slice(0, 160)),
  };
}"""


@pytest.fixture(scope="module")
def visit(server, open_page):
    """visit(path) -> facts of the page (loaded and screenshotted once per path)."""
    seen: dict[str, dict] = {}

    def load(path: str) -> dict:
        if path not in seen:
            page, failed, remote = open_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{server}/{path}", wait_until="networkidle")
            page.wait_for_timeout(500)  # the widget manager renders after the load event
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / (path.replace("/", "__").removesuffix(".html") + ".png")), full_page=True)
            seen[path] = dict(page.evaluate(_FACTS), failed=failed, remote=remote,
                              download=page.evaluate("() => Array.from(document.querySelectorAll('a[href$=\".ipynb\"]'))"
                                                     ".map(a => a.href)"))
            page.close()
        return seen[path]

    return load


def _notebook(book: Path, path: str):
    """The executed notebook a page was built from (the copy the book serves for download)."""
    return nbformat.read(book / "_sources" / path.replace(".html", ".ipynb"), as_version=4)


def _tables_shown(nb) -> int:
    """Tables among the outputs the page keeps: HTML <table>s and Markdown separator rows."""
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or {"remove-cell", "remove-output"} & set(cell.metadata.get("tags", [])):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            count += data.get("text/html", "").count("<table")
            if "text/html" not in data:  # the book renders HTML when both are given
                count += len(SEPARATOR_ROW.findall(data.get("text/markdown", "")))
    return count


def test_the_book_has_its_pages(book):
    assert len(NOTEBOOK_PAGES) == len(list(Path(__file__).parents[2].joinpath("notebooks").glob("[0-9][0-9]_*.py")))


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_everything_from_the_book(visit, path):
    facts = visit(path)
    assert not facts["failed"], f"failed requests: {facts['failed']}"
    assert not facts["remote"], f"requests that leave the book: {facts['remote']}"


@pytest.mark.parametrize("path", PAGES)
def test_tables_render_as_tables(visit, book, path):
    facts = visit(path)
    assert not RAW_TABLE.search(facts["text"]), "a Markdown table shows as raw |---| text"
    if path in NOTEBOOK_PAGES:
        expected = _tables_shown(_notebook(book, path))
        assert facts["tables"] >= expected, f"{expected} tables in the notebook's outputs, {facts['tables']} rendered"


@pytest.mark.parametrize("path", PAGES)
def test_widgets_display(visit, path):
    assert "Error displaying widget" not in visit(path)["text"]


@pytest.mark.parametrize("path", NOTEBOOK_PAGES)
def test_no_progress_bar_is_saved(book, path):
    # tqdm's notebook bar is a FloatProgress widget; saved, it would show a frozen bar in the page
    assert "ProgressModel" not in (book / path).read_text(encoding="utf-8")
    assert "ProgressModel" not in json.dumps(_notebook(book, path).metadata.get("widgets", {}))


@pytest.mark.parametrize("path", NOTEBOOK_PAGES)
def test_every_figure_has_a_caption(visit, path):
    facts = visit(path)
    assert not facts["uncaptioned"], (f"{len(facts['uncaptioned'])} of {facts['figures']} figures have no caption in "
                                      f"their cell (mmprompts.page.figure / caption): {facts['uncaptioned']}")


@pytest.mark.parametrize("path", NOTEBOOK_PAGES)
def test_download_button_serves_the_notebook(visit, path):
    links = visit(path)["download"]
    assert links, "no .ipynb download link on the page"
    with urllib.request.urlopen(links[0]) as response:  # raises on an HTTP error
        nb = nbformat.reads(response.read().decode(), as_version=4)
    nbformat.validate(nb)
    # the executed notebook: papermill's record and the outputs the page shows
    assert "papermill" in nb.metadata and any(cell.get("outputs") for cell in nb.cells)


def test_search_works_offline(server, open_page):
    page, failed, remote = open_page()
    page.goto(f"{server}/search.html?q=prompts", wait_until="networkidle")
    page.wait_for_selector("ul.search li", timeout=15000)
    hits = page.locator("ul.search li a").evaluate_all("links => links.map(a => a.href)")
    assert any("/book/executed/" in href for href in hits), f"search for 'prompts' found no notebook page: {hits}"
    assert not failed and not remote, f"failed: {failed}; outside the book: {remote}"
    page.close()
