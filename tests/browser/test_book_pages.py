"""Every page of the built book as a reader sees it in headless Chromium, offline, on a desktop
(1280 × 900) and on a phone (390 × 844).

Runs when MMPROMPTS_BOOK_HTML names a built book (`.ci/run` sets it). Each page is loaded once per
width; its full-page screenshot goes to $MMPROMPTS_SCREENSHOTS (default `_build/screenshots`, not
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

DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
SMALLEST_TEXT_PX = 9  # CSS px: the smallest text a figure may show on a 1280-px page
MIN_DENSITY = 2  # image pixels per CSS pixel of a figure as shown

# What the reader sees in the page's main column once the widgets have rendered.
_FACTS = """() => {
  const main = document.querySelector('main') || document.body;
  const shows = out => out.querySelector('img, .jupyter-widgets, script[type="application/vnd.jupyter.widget-view+json"]');
  const captioned = out => Array.from(out.querySelectorAll('figcaption')).some(f => f.innerText.trim().length > 0);
  // a table fits, or an ancestor inside the page scrolls it sideways and draws a scroll bar for it
  const scroller = table => {
    for (let el = table.parentElement; el && el !== main.parentElement; el = el.parentElement) {
      const style = getComputedStyle(el);
      if (/(auto|scroll)/.test(style.overflowX) && el.scrollWidth > el.clientWidth) return el;
    }
    return null;
  };
  const tables = Array.from(main.querySelectorAll('table')).filter(t => t.getClientRects().length).map(t => {
    // the page's content area: the text column, and the margin a full-width cell may use
    const box = scroller(t), column = (document.querySelector('.bd-main') || main).getBoundingClientRect();
    const rect = t.getBoundingClientRect();
    return {name: (t.closest('figure') || t).innerText.slice(0, 80),
            fits: rect.left >= column.left - 1 && rect.right <= column.right + 1,
            scrolls: !!box, scrollbar: box ? box.offsetHeight - box.clientHeight : 0,
            scroller_fits: box ? box.getBoundingClientRect().right <= column.right + 1 : false};
  });
  // the drawing the screen picked (a <picture>'s phone source on a phone), as shown, with what the element
  // that drew it says of it (mmprompts.widgets.Drawing: its dpi, its smallest text in points)
  const images = Array.from(main.querySelectorAll('img')).filter(i => i.getBoundingClientRect().width > 0 && (i.currentSrc || i.src).startsWith('data:image/'))
    .map(i => {
      const src = i.currentSrc || i.src, source = i.closest('picture') ? i.closest('picture').querySelector('source') : null;
      const drawn = source && source.srcset === src ? source : i;
      return {src, natural: i.naturalWidth, shown: i.getBoundingClientRect().width, phone_source: source ? source.srcset : null,
              dpi: drawn.dataset.dpi || null, smallest_pt: drawn.dataset.smallestTextPt || null, name: (i.closest('.cell_output') || i).innerText.slice(0, 80) || i.alt};
    });
  const controls = Array.from(main.querySelectorAll('.widget-dropdown, .widget-hslider'))
    .filter(c => c.getClientRects().length).map(c => {
      const track = c.querySelector('.slider-container, select');
      return {name: c.innerText.slice(0, 40), width: c.getBoundingClientRect().width,
              track: track ? track.getBoundingClientRect().width : 0};
    });
  const visible = el => el.offsetParent !== null && el.getBoundingClientRect().width > 0;
  return {
    text: main.innerText,
    tables: main.querySelectorAll('.cell_output table').length,
    figures: Array.from(main.querySelectorAll('.cell_output')).filter(shows).length,
    uncaptioned: Array.from(main.querySelectorAll('.cell_output')).filter(out => shows(out) && !captioned(out))
      .map(out => (out.closest('.cell') || out).innerText.slice(0, 160)),
    table_boxes: tables, images, controls,
    page_width: document.documentElement.scrollWidth, viewport: window.innerWidth,
    search_boxes: Array.from(document.querySelectorAll('.search-button-field, .search-button, form.bd-search')).filter(visible).length,
    favicon: (document.querySelector('link[rel~="icon"]') || {}).href || null,
  };
}"""


# What the reader-facing tests read, once the page has rendered: the verdict strip and where its links
# land; the reader text (code cells, the settings box, code blocks and typeset math left out); every text
# of the book's own elements (verdicts, tables, captions, ledger, summary) with its colour against the
# background it shows on; every figure image as shown, and whether it is cut without a scroll cue.
_READER = r"""() => {
  const main = document.querySelector('main') || document.body;
  const column = (document.querySelector('.bd-main') || main).getBoundingClientRect();
  const strips = Array.from(main.querySelectorAll('.mmp-strip')).map(strip => ({
    pending: strip.classList.contains('mmp-strip-pending'),
    lines: Array.from(strip.querySelectorAll('li')).map(li => {
      const link = li.querySelector('a'), badge = li.querySelector('.mmp-badge');
      const target = link ? document.getElementById(decodeURIComponent(link.getAttribute('href').slice(1))) : null;
      const outcome = target ? target.querySelector('.mmp-outcome') : null;
      return {text: li.innerText.slice(0, 100), badge: badge ? badge.textContent.trim() : null,
              target: target ? target.id : null, target_outcome: outcome ? outcome.textContent.trim() : null};
    })}));
  const skip = 'div.cell_input, .mmp-settings, pre, mjx-container, script, style, .headerlink';
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  const words = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement && !node.parentElement.closest(skip)) words.push(node.textContent);
  }
  const parse = c => { const m = /rgba?\(([^)]+)\)/.exec(c); if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const blend = (top, base) => base.map((v, i) => top[i] * top[3] + v * (1 - top[3]));
  const background = el => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    return layers.reverse().reduce((base, c) => blend(c, base), [255, 255, 255]);
  };
  const lum = rgb => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2]); };
  const own = '.mmp-verdict, .mmp-strip, .mmp-ledger, .mmp-summary, .mmp-table-block, figure.mmp-figure figcaption, table';
  const low = [];
  for (const el of main.querySelectorAll(`:is(${own}), :is(${own}) *`)) {
    if (el.closest('mjx-container') || !el.getClientRects().length) continue;
    const text = Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
    if (!text) continue;
    const back = background(el), fore = blend(parse(getComputedStyle(el).color), back);
    const [a, b] = [lum(fore), lum(back)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) low.push({text: text.slice(0, 60), ratio: Math.round(ratio * 100) / 100,
                               color: getComputedStyle(el).color, background: back.map(Math.round).join(',')});
  }
  const scroller = el => {
    for (let e = el.parentElement; e && e !== main.parentElement; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (/(auto|scroll)/.test(style.overflowX) && e.scrollWidth > e.clientWidth + 1) return e;
    }
    return null;
  };
  const figures = Array.from(main.querySelectorAll('img')).filter(i => i.getBoundingClientRect().width > 0).map(i => {
    const rect = i.getBoundingClientRect(), box = scroller(i);
    // the line that says the figure scrolls (mmprompts.page.Captioned, mmprompts.widgets.view_selector), shown
    const around = i.closest('figure, .widget-vbox'), hint = around ? around.querySelector('.mmp-figure-hint') : null;
    return {name: (i.closest('.cell_output') || i).innerText.slice(0, 60) || i.alt, alt: i.alt || '',
            hint: !!hint && hint.getClientRects().length > 0 && hint.innerText.trim().length > 0,
            fits: rect.left >= column.left - 1 && rect.right <= column.right + 1,
            scrollbar: box ? box.offsetHeight - box.clientHeight : 0,
            scroller_fits: box ? box.getBoundingClientRect().right <= column.right + 1 : false};
  });
  // text cut by a box that hides what overflows, or that scrolls without showing a scroll bar (code
  // blocks, the previous / next links): a reader cannot tell that more is there
  const cut = Array.from(main.parentElement.querySelectorAll('pre, .prev-next-area a, .pst-scrollable-table-container'))
    .filter(el => el.getClientRects().length && el.innerText.trim() && el.scrollWidth > el.clientWidth + 1)
    .filter(el => !(/(auto|scroll)/.test(getComputedStyle(el).overflowX) && el.offsetHeight - el.clientHeight > 0))
    .map(el => ({tag: el.tagName, text: el.innerText.slice(0, 60), overflow: getComputedStyle(el).overflowX}));
  // where the page's first verdict ends, from the top of the page: the strip's first line, the ledger's or the
  // landing summary's first badge
  const first = main.querySelector(".mmp-strip li, .mmp-badge");
  const first_verdict_bottom = first ? first.getBoundingClientRect().bottom + window.scrollY : null;
  // the regions that scroll sideways, each with whether a visible hint says so (set by the book's script)
  const scrolling = Array.from(main.querySelectorAll('.mmp-scroll, .pst-scrollable-table-container'))
    .filter(el => el.getClientRects().length && el.scrollWidth > el.clientWidth + 1).map(el => {
      const hint = el.nextElementSibling && el.nextElementSibling.classList.contains('mmp-scroll-hint') ? el.nextElementSibling : null;
      return {name: el.innerText.slice(0, 60), hint: !!hint && hint.getClientRects().length > 0 && hint.innerText.trim().length > 0};
    });
  return {strips, words: words.join(' '), low_contrast: low, figures, cut, first_verdict_bottom, scrolling};
}"""
DARK = """() => { document.documentElement.dataset.theme = 'dark'; document.documentElement.dataset.mode = 'dark'; }"""


@pytest.fixture(scope="module")
def visit(server, open_page):
    """visit(path, viewport) -> facts of the page at that size (loaded and screenshotted once each),
    with the console's errors and the page's uncaught exceptions."""
    seen: dict[tuple, dict] = {}

    def load(path: str, viewport: dict = DESKTOP) -> dict:
        key = (path, viewport["width"])
        if key not in seen:
            page, failed, remote = open_page(viewport=viewport)
            errors = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{server}/{path}", wait_until="networkidle")
            page.wait_for_timeout(500)  # the widget manager renders after the load event
            # the facts before the screenshot: Playwright hides the scroll bars while it takes one
            facts = dict(page.evaluate(_FACTS), reader=page.evaluate(_READER))
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = path.replace("/", "__").removesuffix(".html") + f"-{viewport['width']}.png"
            page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
            # the same page after the header's theme switch (what its button sets)
            page.evaluate(DARK)
            page.wait_for_timeout(200)
            facts["dark"] = page.evaluate(_READER)
            page.screenshot(path=str(SCREENSHOTS / name.replace(".png", "-dark.png")), full_page=True)
            seen[key] = dict(facts, failed=failed, remote=remote, errors=errors,
                             download=page.evaluate("() => Array.from(document.querySelectorAll('a[href$=\".ipynb\"]'))"
                                                    ".map(a => a.href)"))
            page.close()
        return seen[key]

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


# ------------------------------------------------------------------ every page on a desktop and a phone
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
@pytest.mark.parametrize("path", PAGES)
def test_no_console_errors(visit, path, viewport):
    assert not visit(path, viewport)["errors"], visit(path, viewport)["errors"]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
@pytest.mark.parametrize("path", PAGES)
def test_tables_fit_or_scroll_visibly(visit, path, viewport):
    facts = visit(path, viewport)
    assert facts["page_width"] <= facts["viewport"], "the page scrolls sideways"
    for table in facts["table_boxes"]:
        if table["fits"]:
            continue
        # wider than the column: inside a region of the column that scrolls it and shows its scroll bar
        assert table["scrolls"] and table["scroller_fits"] and table["scrollbar"] > 0, table


def test_table_1_fits_one_desktop_screen(visit):
    page = next(p for p in NOTEBOOK_PAGES if p.endswith("06_bias_vs_prompts.html"))
    first = next(t for t in visit(page)["table_boxes"] if t["name"].startswith("Table 6.1"))
    assert first["fits"] and not first["scrolls"], first


@pytest.mark.parametrize("path", NOTEBOOK_PAGES)
def test_figures_are_readable_on_a_desktop(visit, path):
    for image in visit(path)["images"]:
        assert image["dpi"] and image["smallest_pt"], f"{image['name']}: not drawn by mmprompts.widgets.figure_image"
        inches = image["natural"] / float(image["dpi"])  # the figure's size: the decoded image's pixels at its dpi
        smallest = float(image["smallest_pt"]) / 72 * image["shown"] / inches  # points at the shown size
        assert smallest >= SMALLEST_TEXT_PX, f"{image['name']}: smallest text {smallest:.1f} CSS px"
        assert image["natural"] / image["shown"] >= MIN_DENSITY, f"{image['name']}: {image['natural']} px shown at {image['shown']:.0f}"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
@pytest.mark.parametrize("path", NOTEBOOK_PAGES)
def test_widget_controls_keep_a_usable_width(visit, path, viewport):
    for control in visit(path, viewport)["controls"]:
        assert control["width"] >= min(240, viewport["width"] - 40) and control["track"] >= 100, control


@pytest.mark.parametrize("path", PAGES)
def test_one_search_box_and_a_favicon(visit, path):
    facts = visit(path)
    assert facts["search_boxes"] == 1
    assert facts["favicon"] and not facts["failed"]


# ------------------------------------------------------------------ for a reader in a hurry
# A library's name in reader text: snake_case words, the package's modules, its files.
IDENTIFIER = re.compile(r"(?<![\w/.:-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/]|\.\w)|\bmmprompts\.[a-z_]+|\b[\w-]+\.(?:jsonl|pt|py)\b")
VERDICT_PAGES = [p for p in NOTEBOOK_PAGES if re.search(r"/0[1-7]_", p)]


def test_identifier_rule():
    text = "on `analysis_images` test images, from log.jsonl (mmprompts.claims.positive); objects, land-novel, 4+4, e.g. x."
    assert IDENTIFIER.findall(text) == ["analysis_images", "log.jsonl", "mmprompts.claims"]
    assert not IDENTIFIER.findall("https://arxiv.org/abs/a_b and Z_in, ViT-B/16, page_2.html#x")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
@pytest.mark.parametrize("path", PAGES)
def test_no_library_identifiers_in_reader_text(visit, path, viewport):
    found = IDENTIFIER.findall(visit(path, viewport)["reader"]["words"])
    assert not found, f"library names in the text a reader reads: {sorted(set(found))}"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
@pytest.mark.parametrize("path", VERDICT_PAGES)
def test_verdict_strip_links_land_on_boxes_whose_badge_matches(visit, path, viewport):
    strips = visit(path, viewport)["reader"]["strips"]
    assert len(strips) == 1 and not strips[0]["pending"] and strips[0]["lines"], strips
    for line in strips[0]["lines"]:
        assert line["target"], f"the link of {line['text']!r} lands on no box"
        assert line["badge"] == line["target_outcome"], line


VERDICT_FIRST = [p for p in PAGES if re.search(r"/0[1-8]_|/intro\.", p)]


@pytest.mark.parametrize("path", VERDICT_FIRST)
def test_the_first_verdict_is_on_the_first_screen(visit, path):
    # a reader in a hurry sees a verdict without scrolling: title, one paragraph of what the paper says, then the strip
    bottom = visit(path, DESKTOP)["reader"]["first_verdict_bottom"]
    assert bottom is not None, "no verdict strip, summary or ledger line on the page"
    assert bottom <= DESKTOP["height"], f"the first verdict ends {bottom:.0f} px down, below the first {DESKTOP['height']} px"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
@pytest.mark.parametrize("path", PAGES)
def test_a_table_that_scrolls_says_so(visit, path, viewport):
    # a scroll bar alone is thin, and a phone overlays it: a line under the table says that it scrolls
    missing = [box["name"] for box in visit(path, viewport)["reader"]["scrolling"] if not box["hint"]]
    assert not missing, f"tables that scroll sideways with no visible hint: {missing[:3]}"


PAGE_BYTES = 8 * 2 ** 20  # a page a phone downloads in one go


@pytest.mark.parametrize("path", PAGES)
def test_no_page_over_8_mb(book, path):
    size = (book / path).stat().st_size
    assert size <= PAGE_BYTES, f"{path} is {size / 2 ** 20:.1f} MB"


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
@pytest.mark.parametrize("path", PAGES)
def test_verdicts_and_tables_have_contrast(visit, path, viewport, mode):
    facts = visit(path, viewport)
    low = (facts["reader"] if mode == "light" else facts["dark"])["low_contrast"]
    assert not low, f"{len(low)} texts under 4.5:1 in {mode} mode, e.g. {low[:3]}"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
@pytest.mark.parametrize("path", NOTEBOOK_PAGES)
def test_figures_are_readable_and_never_cut_without_a_cue(visit, path, viewport):
    facts = visit(path, viewport)
    for image in facts["images"]:  # the smallest text as shown: its points, at the figure's inches as shown
        assert image["dpi"] and image["smallest_pt"], f"{image['name']}: not drawn by mmprompts.widgets.figure_image"
        smallest = float(image["smallest_pt"]) / 72 * image["shown"] / (image["natural"] / float(image["dpi"]))
        assert smallest >= SMALLEST_TEXT_PX, f"{image['name']}: smallest text {smallest:.1f} CSS px at {viewport['width']} px"
    for figure in facts["reader"]["figures"]:
        assert figure["alt"].strip(), f"{figure['name']}: no alt text"
        if not figure["fits"]:  # scrolls inside the column, with its scroll bar and a line saying so
            assert figure["scrollbar"] > 0 and figure["scroller_fits"] and figure["hint"], figure


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
@pytest.mark.parametrize("path", PAGES)
def test_no_text_cut_without_a_scroll_bar(visit, path, viewport):
    cut = visit(path, viewport)["reader"]["cut"]
    assert not cut, f"cut with no scroll bar to show it: {cut[:3]}"


@pytest.mark.parametrize("path", NOTEBOOK_PAGES)
def test_a_phone_shows_the_phone_drawing_whole(visit, path):
    # a figure drawn a second time for a phone (mmprompts.widgets.phone_layout) is the one a phone shows, whole
    for image in visit(path, PHONE)["images"]:
        if image["phone_source"]:
            assert image["src"] == image["phone_source"], f"{image['name']}: the page's drawing on a phone"
            assert image["shown"] <= PHONE["width"] - 20, image["name"]
