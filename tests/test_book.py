"""What the book shows around the results: HTML tables, the settings box, captions, cell tags, no saved progress bars."""
from __future__ import annotations

import base64
import io
import re
import shlex
import subprocess
import xml.etree.ElementTree as ET

import matplotlib.pyplot as plt
import nbformat
import PIL.Image
import papermill
import pytest
import yaml

from mmprompts.book import tag_for_reader
from mmprompts.page import caption, dataset_sources, figure, page_header, rerun_command
from mmprompts.paper import DATASET_CITATIONS, PAPER_DATASETS
from mmprompts.storage import project_root
from mmprompts.profiles import settings
from mmprompts.progress import progress_bar
from mmprompts.tables import Cell, html_table, show, to_html
import numpy as np

from mmprompts.widgets import CSS_PX_PER_INCH, DENSITY, PHONE_COLUMN, PHONE_MEDIA, figure_image, view_selector

LIB = project_root() / "lib" / "mmprompts"


def _rows(markup: str, table: int = 0) -> list[list[tuple[str, str, int]]]:
    """(text, class, colspan) of every cell of the `table`-th <table>, row by row (the markup is well-formed XML)."""
    root = ET.fromstring(markup)
    return [[("".join(c.itertext()), c.get("class", ""), int(c.get("colspan", 1))) for c in tr]
            for tr in list(root.iter("table"))[table].iter("tr")]


def test_results_table_cells():
    table = {
        "objects": {"zs": Cell(80.0, 1.0, 3, 90.9), "p": None},
        "<b>x</b>": {"zs": Cell(50.0, 0.0, 1, 48.4), "p": "diverged"},
        "dtd": {"zs": Cell(44.104, 0.0, 1, 44.1), "p": Cell(60.0, 2.5, 2, None)},
        "land-novel": {"zs": Cell(8.0, 0.0, 1, 48.4)},
        "eurosat": {"zs": Cell(48.397, 0.0, 1, 48.4)},
    }
    markup = to_html(table, {"zs": "CLIP", "p": "PROMPT"}, "Table 1")
    header, sub, shapes, escaped, dtd, ablation, eurosat = _rows(markup)
    assert [t for t, _, _ in header] == ["dataset", "CLIP", "PROMPT"] and [t for t, _, _ in sub] == ["this run(paper)", "Δ"] * 2
    # every row spans the same 1 + 2 x columns
    assert {sum(span for _, _, span in row) for row in (shapes, escaped, dtd)} == {5}
    assert shapes[0][0] == "objects vs ImageNet"  # a mini task names the paper's dataset it is compared with
    assert ablation[0][0] == "land-novel ablation, vs EuroSAT"
    assert escaped[0][0] == "<b>x</b>"  # text, not markup
    assert dtd[0][0] == "DTD"  # the paper's datasets by the paper's names
    # the paper's value under this run's mean (and its spread), Δ beside them
    assert shapes[1:3] == [("80.00 ± 1.00paper 90.90", "mmp-num", 1), ("\u221210.90", "mmp-num mmp-delta mmp-neg", 1)]
    assert shapes[3] == ("not run", "mmp-status", 2)
    assert escaped[1] == ("50.00paper 48.40", "mmp-num", 1) and escaped[2] == ("+1.60", "mmp-num mmp-delta mmp-pos", 1)
    assert escaped[3] == ("diverged", "mmp-status", 2)
    assert dtd[2] == eurosat[2] == ("0.00", "mmp-num mmp-delta mmp-zero", 1)  # shown as 0.00: neither gain nor loss
    assert dtd[3:] == [("60.00 ± 2.50", "mmp-num", 1), ("–", "mmp-num mmp-delta", 1)]  # no paper value: none shown
    assert len(list(ET.fromstring(markup).iter("table"))) == 1  # no second table of the paper's values
    root = ET.fromstring(markup)
    assert "".join(root.find("figcaption").itertext()) == "Table 1"
    # the note says what the numbers are: here cells of 1 to 3 runs
    assert "mean ± std over the seeds of each cell (2–3; hover a value for its count) (a cell of one run" in \
        "".join(root.find("p").itertext())


def test_a_spread_of_exactly_zero_is_explained():
    same = ET.fromstring(to_html({"eurosat": {"zs": Cell(50.0, 0.0, 3, 48.4)}}, {"zs": "CLIP"}))
    assert "".join(same.find(".//td").itertext()) == "50.00 ± 0.00*paper 48.40"
    assert "* ± 0.00: every seed's run got exactly the same test accuracy" in "".join(same.find("p").itertext())
    spread = ET.fromstring(to_html({"eurosat": {"zs": Cell(50.0, 0.004, 3, 48.4)}}, {"zs": "CLIP"}))  # shows as 0.00
    assert "*" not in "".join(spread.find(".//td").itertext()) + "".join(spread.find("p").itertext())


def test_table_note_counts_the_runs():
    one = ET.fromstring(to_html({"eurosat": {"zs": Cell(50.0, 0.0, 1, 48.4)}}, {"zs": "CLIP"}))
    three = ET.fromstring(to_html({"eurosat": {"zs": Cell(50.0, 1.0, 3, 48.4)}}, {"zs": "CLIP"}))
    assert "one run per cell" in "".join(one.find("p").itertext())
    assert "mean ± std over 3 seeds." in "".join(three.find("p").itertext())


def test_show_gives_html_and_markdown():
    view = show({"eurosat": {"zs": Cell(50.0, 0.0, 1, 48.4)}}, {"zs": "CLIP"}, "Zero-shot")
    block = ET.fromstring(view._repr_html_())
    # the caption above a region that scrolls sideways, never inside it
    assert block.tag == "figure" and block[0].tag == "figcaption" and block[1].get("class") == "mmp-scroll"
    assert block[1].get("aria-label") == "Zero-shot" and block[1].find("table") is not None
    assert "| EuroSAT | 50.00 · paper 48.40 · Δ +1.60 |" in view._repr_markdown_()


def test_html_table_of_records():
    class Link(str):
        def __html__(self) -> str:
            return f'<a href="p.html">{self}</a>'

    sentence = "a sentence long enough to be read as text, not a label"
    rows = _rows(html_table([{"claim": "a < b", "verdict": "supports", "runs": 3},
                             {"claim": sentence, "verdict": "contradicts", "gain": -1.234, "page": Link("p3")}], "Claims"))
    # the verdict first (a phone shows a wide table's left part), the others in first-seen order
    assert [t for t, _, _ in rows[0]] == ["verdict", "claim", "runs", "gain", "page"]
    assert rows[1] == [("supports", "mmp-verdict mmp-pos", 1), ("a < b", "", 1), ("3", "mmp-num", 1), ("", "", 1), ("", "", 1)]
    # a table of verdicts: each cell names its column (a phone shows each row as a card)
    carded = ET.fromstring(html_table([{"claim": "a < b", "verdict": "supports"}]))
    assert carded.find(".//table").get("class") == "mmp-table mmp-verdict-table"
    assert [td.get("data-label") for td in carded.iter("td")] == ["verdict", "claim"]
    plain = ET.fromstring(html_table([{"claim": "a"}]))
    assert plain.find(".//table").get("class") == "mmp-table" and plain.find(".//td").get("data-label") is None
    assert rows[2] == [("contradicts", "mmp-verdict mmp-neg", 1), (sentence, "mmp-text", 1), ("", "", 1),
                       ("\u22121.23", "mmp-num", 1), ("p3", "", 1)]
    noted = ET.fromstring(html_table([{"a": 1}], "Caption", note="a: a count"))
    assert noted.find("figcaption").text == "Caption" and noted.find("p").text == "a: a count"  # the note under the table
    # numbers given as text (an estimate, a change, an exponent) are numbers: right-aligned, one minus sign
    numeric = _rows(html_table([{"a": "-0.084 ± 0.028", "b": "0.080 → 0.065", "c": "1.2e-06", "d": "4+4 prompts"}]))
    assert numeric[1] == [("\u22120.084 ± 0.028", "mmp-num", 1), ("0.080 → 0.065", "mmp-num", 1), ("1.2e\u221206", "mmp-num", 1),
                          ("4+4 prompts", "", 1)]
    shown = html_table([{"page": Link("p3")}])
    assert '<a href="p.html">p3</a>' in shown and shown._repr_html_() == shown  # a cell's last line shows the table
    with pytest.raises(ValueError, match="verdict 'yes': use one of"):
        html_table([{"verdict": "yes"}])


def test_rerun_command_reproduces_the_settings(tmp_path):
    s = settings("mini", datasets=["badges", "land"], seeds=[1], epochs=2, lr=0.5, analysis_images=8, device="cpu")
    command = rerun_command(s, "01_zero_shot")
    words = shlex.split(command)
    assert words[:6] == ["jupytext", "--to", "ipynb", "-o", "-", "notebooks/01_zero_shot.py"]
    given = yaml.safe_load(words[words.index("-y") + 1])
    assert given == {"datasets": ["badges", "land"], "seeds": [1], "epochs": 2, "lr": 0.5, "analysis_images": 8}
    assert settings(words[words.index("profile") + 1], device="cpu", **given) == s
    assert "-y" not in rerun_command(settings("mini", device="cpu"), "01_zero_shot")  # the profile as it is
    # the pipeline runs: jupytext converts, papermill injects the parameters (without executing the page)
    out = subprocess.run(command.replace("papermill -", "papermill --prepare-only -").replace(
        " 01_zero_shot.ipynb", f" {tmp_path / 'out.ipynb'}"), shell=True, cwd=project_root(), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    injected = [c for c in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells
                if "injected-parameters" in c.metadata.get("tags", [])]
    assert 'datasets = ["badges", "land"]' in injected[0].source and "epochs = 2" in injected[0].source


def test_page_header_lists_the_settings():
    s = settings("mini", datasets=["objects"], seeds=[1, 2], device="cpu")
    box = page_header(s, "06_bias_vs_prompts", "Sec. 5")._repr_html_()
    for text in ("mini-clip (weights mini-world)", "<dd>objects (for ImageNet)</dd>", "16 per class · 1, 2",
                 f"SGD lr {s.recipe.lr:g}, batch {s.recipe.batch_size}, {s.recipe.epochs} epochs",
                 "notebooks/06_bias_vs_prompts.py", ">arXiv:2312.11570</a>, 2023, Sec. 5."):
        assert text in box, text
    # closed: one line that names the profile, the model and how many datasets and seeds
    root = ET.fromstring(box)
    assert root.tag == "details" and "open" not in root.attrib
    assert "".join(root.find("summary").itertext()) == "Settings of this build mini profile · mini-clip · 1 dataset · 2 seeds"


def test_dataset_sources_cite_every_paper_dataset_once():
    line = dataset_sources(["objects", "land", "land-novel", "eurosat"])
    assert line == ("The paper's datasets (and the mini tasks standing for them): ImageNet {cite:p}`deng2009imagenet` "
                    "(`objects`), EuroSAT {cite:p}`helber2019eurosat` (`land`, `land-novel`).")
    # every citation key is an entry of the book's bibliography
    keys = set(re.findall(r"^@\w+\{([^,]+),", (project_root() / "book" / "references.bib").read_text(), re.M))
    assert set(DATASET_CITATIONS.values()) <= keys and set(DATASET_CITATIONS) == set(PAPER_DATASETS)


def test_figure_and_caption():
    # the layout engine fixed, whatever an earlier test imported (mmprompts.figures turns constrained layout on)
    with plt.rc_context({"figure.constrained_layout.use": False}):
        fig, ax = plt.subplots(figsize=(3, 1))
    ax.plot([0, 1])
    ax.set_title("small", fontsize=6.5)
    fig.text(0.5, 0.5, " ")  # blank: draws nothing
    ax.text(0.5, 0.5, "hidden", fontsize=4, visible=False)
    shown = figure(fig, "share per group", "3.1", "Fig. 2")
    assert not plt.get_fignums()  # closed: the page shows it once
    root = ET.fromstring(shown._repr_html_())
    # the image inside a region that scrolls it sideways on a phone (300 px wide: no hint needed)
    assert root.tag == "figure" and root.find("div").get("class") == "mmp-figure-scroll" and len(root) == 2
    image = root.find("div/img")
    assert image.get("src").startswith("data:image/webp;base64,") and image.get("alt") == "share per group"
    embedded = base64.b64decode(image.get("src").split(",", 1)[1])
    assert embedded == shown.image.drawing.webp
    decoded = PIL.Image.open(io.BytesIO(embedded))  # the page's bytes, read independently of the library
    assert decoded.format == "WEBP" and decoded.size == (shown.image.drawing.width, shown.image.drawing.height)
    # drawn at DENSITY image pixels per CSS pixel and shown at its size in figure inches (100 CSS px each)
    assert image.get("data-dpi") == str(CSS_PX_PER_INCH * DENSITY)
    assert int(image.get("width")) == decoded.width // DENSITY
    assert 2.5 * CSS_PX_PER_INCH < int(image.get("width")) <= 3 * CSS_PX_PER_INCH  # 3 in, cropped tight
    assert image.get("data-smallest-text-pt") == "6.5"  # the title; blank and hidden text draw nothing
    assert "".join(root.find("figcaption").itertext()) == "Figure 3.1 — share per group (cf. paper Fig. 2)"
    wide, _ = plt.subplots(figsize=(6, 1))  # wider than a phone's column: a phone drawing, picked by the screen's width
    pictured = ET.fromstring(figure(wide, "wide")._repr_html_())
    source, fallback = pictured.find("div/picture/source"), pictured.find("div/picture/img")
    assert len(pictured) == 2 and source.get("media") == PHONE_MEDIA and fallback.get("alt") == "wide"
    phone = PIL.Image.open(io.BytesIO(base64.b64decode(source.get("srcset").split(",", 1)[1])))
    assert int(source.get("width")) == phone.width // DENSITY <= PHONE_COLUMN < int(fallback.get("width"))
    assert source.get("data-smallest-text-pt") == fallback.get("data-smallest-text-pt")  # the same points, larger on a phone
    free = plt.figure(figsize=(6, 1))  # axes placed by hand: nothing to re-lay, so it says that it scrolls
    free.add_axes((0.1, 0.1, 0.8, 0.8))
    hinted = ET.fromstring(figure(free, "placed")._repr_html_())
    assert hinted[0].get("class") == "mmp-figure-hint" and "scroll" in hinted[0].text and hinted.find("div/picture") is None
    only = ET.fromstring(caption("maps < 1")._repr_html_())
    assert only.find("img") is None and "".join(only.find("figcaption").itertext()) == "maps < 1"


def test_tag_for_reader(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("profile = 'mini'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("profile = 'paper'", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("S = 1"),
        nbformat.v4.new_code_cell("x = 2", metadata={"tags": ["remove-input"]}),
        nbformat.v4.new_code_cell("y = 3", metadata={"tags": ["show-input"]}),
        nbformat.v4.new_code_cell("S", outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "1"}, execution_count=1)]),
    ])
    path = tmp_path / "page.ipynb"
    nbformat.write(nb, path)
    tag_for_reader(path)
    tags = [cell.metadata.get("tags") for cell in nbformat.read(path, as_version=4).cells]
    # a cell that shows nothing loses its input too (no bar over nothing); one with an output keeps it, collapsed
    assert tags == [None, ["parameters", "remove-cell"], ["injected-parameters", "remove-cell"], ["remove-input"],
                    ["remove-input"], ["show-input"], ["hide-input"]]


def test_progress_bar_switches(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert not progress_bar(range(2)).disable and progress_bar(range(2), enabled=False).disable
    for value, silenced in (("1", True), ("0", False), ("", False)):
        monkeypatch.setenv("TQDM_DISABLE", value)
        assert progress_bar(range(2)).disable is silenced, value


def test_no_progress_widget_in_a_kernel_with_tqdm_disable(tmp_path, monkeypatch):
    # In a kernel tqdm.auto makes notebook bars, which ignore TQDM_DISABLE by themselves: this is
    # how the book's pages came to save 54 frozen progress widgets.
    monkeypatch.setenv("TQDM_DISABLE", "1")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from mmprompts.progress import progress_bar\nfor _ in progress_bar(range(3), desc='runs'): pass")])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "bar.ipynb")
    papermill.execute_notebook(str(tmp_path / "bar.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                               cwd=str(project_root()), progress_bar=False)
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.cells[0].outputs == [] and "widgets" not in out.metadata


def test_every_bar_is_the_one_progress_bar():
    # a bar made elsewhere (an explicit `disable=False`) would save progress widgets into the book's pages
    users = [p.relative_to(LIB).as_posix() for p in LIB.rglob("*.py") if p.name != "progress.py"
             and any(line.lstrip().startswith(("import tqdm", "from tqdm")) for line in p.read_text().splitlines())]
    assert users == []


def test_view_selector_views_have_alt_text_and_scroll_on_a_phone():
    def drawn(width: float):
        fig, ax = plt.subplots(figsize=(width, 1))
        ax.plot([0, 1])
        return figure_image(fig)

    narrow = drawn(3)
    wide = plt.figure(figsize=(6, 1))  # axes placed by hand: no phone drawing
    wide.add_axes((0.1, 0.1, 0.8, 0.8))
    wide = figure_image(wide)
    box = view_selector([[narrow, narrow], [narrow, narrow]], [("dataset", ["objects", "land"]), ("image", ["1", "2"])])
    controls, views = box.children
    assert "mmp-views" in views._dom_classes  # book/style: kept at its drawn size, scrolled sideways on a phone
    images = [leaf.value for stack in views.children for leaf in stack.children]
    assert [re.search(r'alt="([^"]*)"', i).group(1) for i in images] == [
        f"The view for dataset {d}, image {n}" for d in ("objects", "land") for n in ("1", "2")]
    assert all(base64.b64decode(re.search(r"base64,([^\"]*)", i).group(1)) == narrow.drawing.webp for i in images)
    assert f'width="{narrow.drawing.width // DENSITY}"' in images[0]  # its drawn width in CSS px
    # a view wider than a phone's column says that it scrolls, above the views
    hinted = view_selector([wide, wide], [("dataset", ["objects", "land"])]).children
    assert len(hinted) == 3 and "scroll the figure sideways" in hinted[1].value


def test_phone_drawing_stacks_the_panels_and_keeps_the_text_size():
    fig, axes = plt.subplots(2, 3, figsize=(6.8, 3.8), sharey=True)
    for ax, name in zip(axes.flat, "abcdef"):
        ax.bar(range(3), [1, 2, 3], label="bars")
        ax.set_title(name)
    axes[0, 0].set_ylabel("a long label of the left column")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center", ncols=6)
    drawn = figure_image(fig)
    desktop, phone = drawn.drawing, drawn.phone
    assert desktop.css_width > PHONE_COLUMN >= phone.css_width
    assert phone.smallest_text_pt == desktop.smallest_text_pt  # same points: larger on a phone
    # six panels in one column: about three times as tall as the 2-row grid, at half its width
    assert phone.height > 2.5 * desktop.height
    # a grid of pictures more than four wide turns its columns into rows
    pictures, grid = plt.subplots(2, 7, figsize=(6.8, 2.2))
    for ax in grid.flat:
        ax.imshow(np.zeros((4, 4)))
    turned = figure_image(pictures).phone
    assert turned.css_width <= PHONE_COLUMN and turned.height > turned.width
    # a picture beside a chart with long labels (the book's figure of page 1): stacked, and the drawing fits
    from mmprompts.figures import class_probabilities

    names = ["a very long class name here", "tabby cat", "golden retriever dog", "checkered pattern", "x"]
    mixed = figure_image(class_probabilities(np.zeros((8, 8, 3)), names, [0.1, 0.2, 0.3, 0.2, 0.2], "tabby cat"))
    assert mixed.drawing.css_width > PHONE_COLUMN >= mixed.phone.css_width
    assert mixed.phone.height > mixed.drawing.height  # the two panels one above the other
    # a figure that fits a phone's column already has no second drawing
    small, ax = plt.subplots(figsize=(3, 1))
    assert figure_image(small).phone is None
