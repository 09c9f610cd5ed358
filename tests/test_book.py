"""What the book shows around the results: HTML tables, the settings box, captions, cell tags, no saved progress bars."""
from __future__ import annotations

import base64
import shlex
import subprocess
import xml.etree.ElementTree as ET

import matplotlib.pyplot as plt
import nbformat
import papermill
import pytest
import yaml

from mmprompts.book import tag_for_reader
from mmprompts.page import caption, figure, page_header, rerun_command
from mmprompts.profiles import settings
from mmprompts.storage import project_root
from mmprompts.progress import progress_bar
from mmprompts.tables import Cell, html_table, show, to_html

LIB = project_root() / "lib" / "mmprompts"


def _rows(markup: str) -> list[list[tuple[str, str, int]]]:
    """(text, class, colspan) of every cell, row by row (the tables are well-formed XML)."""
    root = ET.fromstring(markup)
    return [[("".join(c.itertext()), c.get("class", ""), int(c.get("colspan", 1))) for c in tr]
            for tr in root.iter("tr")]


def test_results_table_cells():
    table = {
        "objects": {"zs": Cell(80.0, 1.0, 3, 90.9), "p": None},
        "<b>x</b>": {"zs": Cell(50.0, 0.0, 1, 48.4), "p": "diverged"},
        "dtd": {"zs": Cell(44.104, 0.0, 1, 44.1), "p": Cell(60.0, 2.5, 2, None)},
        "land-novel": {"zs": Cell(8.0, 0.0, 1, 48.4)},
    }
    rows = _rows(to_html(table, {"zs": "CLIP", "p": "PROMPT"}, "Table 1"))
    header, sub, shapes, escaped, dtd, ablation, note = rows
    assert [t for t, _, _ in header] == ["dataset", "CLIP", "PROMPT"] and [t for t, _, _ in sub] == ["this run", "paper", "Δ"] * 2
    # every row spans the same 1 + 3 x columns
    assert {sum(span for _, _, span in row) for row in (shapes, escaped, dtd)} == {7}
    assert shapes[0][0] == "objects vs imagenet"  # a mini task names the paper's dataset it is compared with
    assert ablation[0][0] == "land-novel ablation, vs eurosat"
    assert shapes[1:4] == [("80.00 ± 1.00", "mmp-num", 1), ("90.90", "mmp-num mmp-paper", 1),
                           ("\u221210.90", "mmp-num mmp-delta mmp-neg", 1)]
    assert shapes[4] == ("not run", "mmp-status", 3)
    assert escaped[0][0] == "<b>x</b>"  # text, not markup
    assert escaped[1][0] == "50.00" and escaped[3] == ("+1.60", "mmp-num mmp-delta mmp-pos", 1)
    assert escaped[4] == ("diverged", "mmp-status", 3)
    assert dtd[3] == ("+0.00", "mmp-num mmp-delta mmp-zero", 1)  # shown as +0.00: neither gain nor loss
    assert dtd[4:] == [("60.00 ± 2.50", "mmp-num", 1), ("–", "mmp-num mmp-paper", 1), ("–", "mmp-num mmp-delta", 1)]
    assert note[0][2] == 7


def test_show_gives_html_and_markdown():
    view = show({"eurosat": {"zs": Cell(50.0, 0.0, 1, 48.4)}}, {"zs": "CLIP"}, "Zero-shot")
    assert view._repr_html_().startswith('<table class="mmp-table"><caption>Zero-shot</caption>')
    assert "| eurosat | 50.00 · paper 48.40 · Δ +1.60 |" in view._repr_markdown_()


def test_html_table_of_records():
    class Link(str):
        def __html__(self) -> str:
            return f'<a href="p.html">{self}</a>'

    rows = _rows(html_table([{"claim": "a < b", "verdict": "supports", "runs": 3},
                             {"claim": "c", "verdict": "contradicts", "gain": 1.234, "page": Link("p3")}], "Claims"))
    assert [t for t, _, _ in rows[0]] == ["claim", "verdict", "runs", "gain", "page"]
    assert rows[1] == [("a < b", "", 1), ("supports", "mmp-verdict mmp-pos", 1), ("3", "mmp-num", 1), ("", "", 1), ("", "", 1)]
    assert rows[2][1:] == [("contradicts", "mmp-verdict mmp-neg", 1), ("", "", 1), ("1.23", "mmp-num", 1), ("p3", "", 1)]
    shown = html_table([{"page": Link("p3")}])
    assert '<a href="p.html">p3</a>' in shown and shown._repr_html_() == shown  # a cell's last line shows the table
    with pytest.raises(ValueError, match="verdict 'yes': use one of"):
        html_table([{"verdict": "yes"}])


def test_rerun_command_reproduces_the_settings(tmp_path):
    s = settings("mini", datasets=["objects", "land"], seeds=[1], epochs=2, lr=0.5, analysis_images=8, device="cpu")
    command = rerun_command(s, "01_zero_shot")
    words = shlex.split(command)
    assert words[:6] == ["jupytext", "--to", "ipynb", "-o", "-", "notebooks/01_zero_shot.py"]
    given = yaml.safe_load(words[words.index("-y") + 1])
    assert given == {"datasets": ["objects", "land"], "seeds": [1], "epochs": 2, "lr": 0.5, "analysis_images": 8}
    assert settings(words[words.index("profile") + 1], device="cpu", **given) == s
    assert "-y" not in rerun_command(settings("mini", device="cpu"), "01_zero_shot")  # the profile as it is
    # the pipeline runs: jupytext converts, papermill injects the parameters (without executing the page)
    out = subprocess.run(command.replace("papermill -", "papermill --prepare-only -").replace(
        " 01_zero_shot.ipynb", f" {tmp_path / 'out.ipynb'}"), shell=True, cwd=project_root(), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    injected = [c for c in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells
                if "injected-parameters" in c.metadata.get("tags", [])]
    assert 'datasets = ["objects", "land"]' in injected[0].source and "epochs = 2" in injected[0].source


def test_page_header_lists_the_settings():
    s = settings("mini", datasets=["objects"], seeds=[1, 2], device="cpu")
    box = page_header(s, "06_bias_vs_prompts", "Sec. 5")._repr_html_()
    for text in ("mini-clip (weights mini-world)", "<dd>objects</dd>", "16 per class · 1, 2",
                 f"SGD lr {s.recipe.lr:g}, batch {s.recipe.batch_size}, {s.recipe.epochs} epochs",
                 "notebooks/06_bias_vs_prompts.py", "arXiv preprint, 2023, Sec. 5."):
        assert text in box, text


def test_figure_and_caption():
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1])
    shown = figure(fig, "share per group", "3.1", "Fig. 2")
    assert not plt.get_fignums()  # closed: the page shows it once
    root = ET.fromstring(shown._repr_html_())
    assert root.tag == "figure" and root.find("img").get("src").startswith("data:image/png;base64,")
    assert base64.b64decode(root.find("img").get("src").split(",", 1)[1]) == shown.png
    assert shown.png.startswith(b"\x89PNG")
    assert "".join(root.find("figcaption").itertext()) == "Figure 3.1 — share per group (cf. paper Fig. 2)"
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
    ])
    path = tmp_path / "page.ipynb"
    nbformat.write(nb, path)
    tag_for_reader(path)
    tags = [cell.metadata.get("tags") for cell in nbformat.read(path, as_version=4).cells]
    assert tags == [None, ["parameters", "remove-cell"], ["injected-parameters", "remove-cell"], ["hide-input"],
                    ["remove-input"], ["show-input"]]


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
