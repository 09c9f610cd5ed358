"""The notebooks' real-data path (`paper` profile on a CoOp-layout folder) and their parameter checks.

Every notebook also runs in its default profile under `pytest --nbmake notebooks`.
"""
from __future__ import annotations

import html
import json

import pytest
from papermill.exceptions import PapermillExecutionError

from mmprompts.book import execute_notebook
from mmprompts.storage import project_root
from mmprompts.data.toy import make_toy_dataset
from mmprompts.paper import dataset_name
from mmprompts.profiles import PARAMETERS

NOTEBOOKS = project_root() / "notebooks"


def _outputs(notebook) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    return "\n".join(json.dumps(cell.get("outputs", [])) for cell in cells)


def _html(notebook) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    return "\n".join("".join(o.get("data", {}).get("text/html", "")) for c in cells for o in c.get("outputs", []))


def test_paper_profile_reads_coop_folders(tmp_path):
    for name in ("eurosat", "dtd"):
        make_toy_dataset(tmp_path / "data", name, per_class=(8, 2, 4), size=48)
    out = execute_notebook(NOTEBOOKS / "01_zero_shot.py", tmp_path / "out.ipynb", {
        "profile": "paper", "data_root": str(tmp_path / "data"), "datasets": ["eurosat", "dtd"],
        "model": "mini-clip", "pretrained": "mini-world", "device": "cpu", "cache": str(tmp_path / "cache"),
    }, progress=False)
    text = _html(out)
    # the paper profile's CoOp readers ran on the generated folders (classes, test images, CoOp's template),
    # and the paper's numbers sit beside ours
    assert ('<td>EuroSAT</td><td>EuroSAT</td><td class="mmp-num">4</td><td class="mmp-num">16</td>'
            "<td>a centered satellite photo of {}.</td>") in text
    assert '<td>DTD</td><td>DTD</td><td class="mmp-num">3</td><td class="mmp-num">12</td><td>{} texture.</td>' in text
    assert '<span class="mmp-paper-value">paper 48.40</span>' in text and '<span class="mmp-paper-value">paper 44.10</span>' in text
    assert len(list((tmp_path / "cache" / "runs").iterdir())) == 2  # one zero-shot run per dataset, cached


# Every page on the paper's data path, small: CoOp-layout folders of tiny generated images (EuroSAT and
# DTD with their own templates, Caltech101 with "a photo of a {}."), the mini model standing in for
# ViT-B/16, one seed, two epochs (the paper's warm-up epoch and one more), 2 shots, depths and prompt counts of a few values only.
PAPER_PATH_DATASETS = ["eurosat", "dtd", "caltech101"]


@pytest.fixture(scope="module")
def paper_path(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("paper-path")
    for name in PAPER_PATH_DATASETS:
        make_toy_dataset(root / "data", name, per_class=(4, 1, 2), size=48)
    return {"profile": "paper", "data_root": str(root / "data"), "datasets": PAPER_PATH_DATASETS,
            "model": "mini-clip", "pretrained": "mini-world", "device": "cpu", "cache": str(root / "cache"),
            "seeds": [1], "epochs": 2, "shots": 2, "batch_size": 4, "depths": [1, 4], "prompt_counts": [1, 4],
            "analysis_images": 4}


DATA_PAGES = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py") if p.stem != "08_claims_ledger")


@pytest.mark.parametrize("notebook", DATA_PAGES)
def test_every_page_runs_on_the_paper_path(paper_path, tmp_path, notebook, monkeypatch):
    monkeypatch.setenv("MMPROMPTS_VERDICTS", str(tmp_path / "verdicts"))  # as the book build does
    out = execute_notebook(NOTEBOOKS / f"{notebook}.py", tmp_path / "out.ipynb", paper_path, progress=False)
    # every page ends with its verdicts, recorded for the ledger
    assert json.loads((tmp_path / "verdicts" / f"{notebook}.json").read_text())
    # what the page shows (outputs and widget state), not the parameter cells that name the datasets
    shown = _outputs(out) + json.dumps(json.loads(out.read_text())["metadata"].get("widgets", {}))
    missing = [d for d in PAPER_PATH_DATASETS if d not in shown and dataset_name(d) not in shown]  # by key or by name
    assert not missing, f"{notebook} ran but shows nothing of {missing}"


@pytest.mark.parametrize("parameters, message", [
    ({"profile": "laptop"}, "unknown profile 'laptop'"),
    ({"datasets": ["imagenette"]}, "unknown \\['imagenette'\\]"),
    ({"shots": "sixteen"}, "shots='sixteen': must be an integer"),
    ({"shotz": 4}, r"unknown parameter 'shotz'; known: \['profile', 'model'"),
])
def test_a_wrong_parameter_stops_the_first_cell(tmp_path, parameters, message):
    with pytest.raises(PapermillExecutionError, match=message) as failure:
        execute_notebook(NOTEBOOKS / "06_bias_vs_prompts.py", tmp_path / "out.ipynb", parameters, progress=False)
    # cells: markdown, parameters, injected parameters, settings → the settings cell is the 3rd code cell
    assert failure.value.exec_count == 3


@pytest.mark.parametrize("notebook", DATA_PAGES)
def test_every_documented_parameter_is_in_the_parameters_cell(notebook, tmp_path):
    """Papermill warns about a `-p NAME` its inspection of the parameters cell does not find: every page
    declares exactly `profile` and profiles.PARAMETERS, one line each, so the same `-p` works on every page."""
    import jupytext
    import nbformat
    from papermill.inspection import _infer_parameters
    from papermill.iorw import load_notebook_node

    nbformat.write(jupytext.read(NOTEBOOKS / f"{notebook}.py"), tmp_path / "page.ipynb")
    found = [p.name for p in _infer_parameters(load_notebook_node(str(tmp_path / "page.ipynb")), name="python3")]
    assert found == ["profile", *PARAMETERS]


def test_the_ledger_page_lists_every_recorded_verdict(tmp_path, monkeypatch):
    from mmprompts import claims

    folder = tmp_path / "verdicts"
    claims.record_verdicts("02_prompts_in_attention", [claims.decide_identities(2e-7)], folder)
    curve = {1: claims.Estimate(70, 0.1), 4: claims.Estimate(75, 0.1)}
    claims.record_verdicts("07_sensitivity", [claims.decide_more_prompts_help({"a": curve, "b": curve},
                                                                                   {t: claims.Estimate(10, 1) for t in "ab"})],
                           folder)
    monkeypatch.setenv("MMPROMPTS_VERDICTS", str(folder))
    text = _outputs(execute_notebook(NOTEBOOKS / "08_claims_ledger.py", tmp_path / "ledger.ipynb", progress=False))
    assert "1 sentence the paper asserts: 1 decided here (1 supported, 0 contradicted)" in text
    name = claims.CLAIMS["count.more-prompts-help"].sentence
    assert name in text and "07_sensitivity.html#verdict-count-more-prompts-help" in text
    assert html.escape(claims.CLAIMS["formulation.identities"].sentence) in text  # the check, in its own list