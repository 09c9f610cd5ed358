"""Every page trains through `experiments.results`, so which page runs first no longer decides a cached result."""
from __future__ import annotations

import json

import pytest
import torch

from mmprompts.book import execute_notebook
from mmprompts.data import load_dataset
from mmprompts.runs import read_log
from mmprompts.storage import project_root

NOTEBOOKS = project_root() / "notebooks"


def _run_files(cache) -> dict[str, dict]:
    """What each run folder holds, less the wall-clock times (which differ from build to build)."""
    runs = {}
    for folder in sorted((cache / "runs").iterdir()):
        metrics = json.loads((folder / "metrics.json").read_text())
        metrics.pop("train_time_s", None)  # zero-shot runs (page 2's CLIP arm) train nothing
        for epoch in metrics.get("history", []):
            epoch.pop("seconds")
        trained = (folder / "learned.pt").exists()
        log = [{k: v for k, v in record.items() if k != "seconds"} for record in read_log(folder)] if trained else []
        runs[folder.name] = {"config": (folder / "config.json").read_text(), "metrics": metrics, "log": log,
                             "learned": torch.load(folder / "learned.pt") if trained else {}}
    return runs


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("mini-world")
    for task in ("relations", "textures"):  # the two smallest tasks (6 and 8 classes), generated once
        load_dataset(task, root)
    return str(root)


def test_pages_4_and_2_in_either_order_leave_the_same_run_files(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("MMPROMPTS_VERDICTS", str(tmp_path / "verdicts"))
    found = {}
    for order in (("04_text_prompts", "02_prompts_in_attention"), ("02_prompts_in_attention", "04_text_prompts")):
        cache = tmp_path / "-".join(page[:2] for page in order)
        parameters = {"datasets": ["relations", "textures"], "data_root": data_root, "seeds": [1], "shots": 2,
                      "epochs": 2, "analysis_images": 2, "intervention_images": 8, "cache": str(cache)}
        for page in order:
            execute_notebook(NOTEBOOKS / f"{page}.py", tmp_path / f"{page}.ipynb", parameters, progress=False)
        found[order[0]] = _run_files(cache)
    first, second = found.values()
    # per task: the analysis run (pages 2 and 4), page 2's two known answers (attention-bias and bias tuning)
    # and zero-shot CLIP
    assert len(first) == 8 and first.keys() == second.keys()
    assert sum(bool(files["learned"]) for files in first.values()) == 6
    for key, files in first.items():
        other = second[key]
        assert files["config"] == other["config"] and files["metrics"] == other["metrics"]
        assert files["log"] == other["log"] and files["metrics"].get("group_size", 2) == 2
        assert all(torch.equal(value, other["learned"][name]) for name, value in files["learned"].items())
