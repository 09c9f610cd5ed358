"""The notebooks' real-data path (`paper` profile on a CoOp-layout folder) and their parameter checks.

Every notebook also runs in its default profile under `pytest --nbmake notebooks`.
"""
from __future__ import annotations

import json

import pytest
from papermill.exceptions import PapermillExecutionError

from mmprompts.book import execute_notebook, project_root
from mmprompts.data.toy import make_toy_dataset

NOTEBOOKS = project_root() / "notebooks"


def _outputs(notebook) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    return "\n".join(json.dumps(cell.get("outputs", [])) for cell in cells)


def test_paper_profile_reads_coop_folders(tmp_path):
    for name in ("eurosat", "dtd"):
        make_toy_dataset(tmp_path / "data", name, per_class=(8, 2, 4), size=48)
    out = execute_notebook(NOTEBOOKS / "01_zero_shot.py", tmp_path / "out.ipynb", {
        "profile": "paper", "data_root": str(tmp_path / "data"), "datasets": ["eurosat", "dtd"],
        "model": "mini-clip", "pretrained": "mini-world", "device": "cpu", "cache": str(tmp_path / "cache"),
    }, progress=False)
    text = _outputs(out)
    # the paper profile's CoOp readers ran on the generated folders, and the paper's numbers sit beside ours
    assert "eurosat (4 classes, 16 test)" in text and "dtd (3 classes, 12 test)" in text
    assert "paper 48.40" in text and "paper 44.10" in text
    assert len(list((tmp_path / "cache" / "runs").iterdir())) == 2  # one zero-shot run per dataset, cached


@pytest.mark.parametrize("parameters, message", [
    ({"profile": "laptop"}, "unknown profile 'laptop'"),
    ({"datasets": ["imagenette"]}, "unknown \\['imagenette'\\]"),
    ({"shots": "sixteen"}, "shots='sixteen': must be an integer"),
])
def test_a_wrong_parameter_stops_the_first_cell(tmp_path, parameters, message):
    with pytest.raises(PapermillExecutionError, match=message) as failure:
        execute_notebook(NOTEBOOKS / "06_bias_vs_prompts.py", tmp_path / "out.ipynb", parameters, progress=False)
    # cells: markdown, parameters, injected parameters, settings → the settings cell is the 3rd code cell
    assert failure.value.exec_count == 3
