"""The Ray sweep on the mini world: runs land in the cache, re-runs skip them, a failing run is reported."""
from __future__ import annotations

import statistics

import pytest

from mmprompts import PromptConfig
from mmprompts.experiments import RunSpec, run_all
from mmprompts.profiles import settings
from mmprompts.sweep import run_sweep
from mmprompts.tables import table2

pytest.importorskip("ray")


def test_sweep_trains_caches_skips_and_reports_failures(tmp_path):
    config = settings("mini", datasets=["badges"], seeds=[1, 2], epochs=2, cache=str(tmp_path / "cache"),
                      data_root=str(tmp_path / "data"), device="cpu")
    good = [RunSpec("badges", PromptConfig.prompts(4, depth), seed) for depth in (1, 2) for seed in (1, 2)]
    broken = RunSpec("badges", PromptConfig.prompts(1, 13), 1)  # 13 prompted blocks on a 12-block model
    first = run_sweep(good + [broken], config, progress=False, ray_init={"num_cpus": 2})
    assert set(first.accuracies) == set(good) and first.from_cache == 0
    assert list(first.errors) == [broken] and "depth_vision=13 exceeds the 12 blocks" in first.errors[broken]

    # what the sweep reports is what the cache holds, and the table aggregates it per setting
    cached = run_all(good, config.load_model(), config, progress=False, only_cached=True)
    assert cached == first.accuracies
    rows = table2(first.accuracies, ["badges"], [1, 2], layers=12)["badges"]  # Table 2 is 4+4 prompts
    assert rows[1].mean == pytest.approx(statistics.fmean(first.accuracies[s] for s in good[:2]))
    assert rows[1].runs == 2

    again = run_sweep(good + [broken], config, progress=False, ray_init={"num_cpus": 2})
    assert again.from_cache == len(good) and again.accuracies == first.accuracies and list(again.errors) == [broken]
