"""Profiles and parameter checking, the paper's tables as data, and table aggregation."""
from __future__ import annotations

import csv
import io
import statistics

import pytest

from mmprompts import PromptConfig, paper
from mmprompts.experiments import RunSpec
from mmprompts.presets import table1_specs, table2_specs, table3_specs
from mmprompts.profiles import PARAMETERS, from_parameters, settings
from mmprompts.tables import best_prompt_setting, table1, table2, table3, to_csv, to_markdown, zero_shot_table


def test_profiles_fill_every_value_and_accept_overrides():
    mini = settings("mini")
    assert (mini.model, mini.pretrained) == ("mini-clip", "mini-world")
    assert mini.datasets == ("objects", "badges", "textures", "places", "land", "relations")  # the ablation is not a default
    changed = settings("mini", seeds=[1], epochs=3, lr=0.5, datasets="objects", device="cpu")
    assert changed.seeds == (1,) and changed.datasets == ("objects",) and set(changed.sensitivity_datasets) <= {"objects"}
    assert (changed.recipe.epochs, changed.recipe.lr, changed.recipe.batch_size) == (3, 0.5, mini.recipe.batch_size)
    big = settings("paper", data_root="/data")
    assert big.model == "ViT-B-16-quickgelu" and big.pretrained == "openai" and big.recipe.lr == 0.0025
    assert big.prompt_counts == paper.TABLE3_PROMPTS[1:] and big.depths == tuple(range(1, 13))
    local = settings("paper", checkpoint="/weights/ViT-B-16.pt")
    assert local.pretrained is None and local.checkpoint == "/weights/ViT-B-16.pt"


def test_the_verdict_scope_names_the_model_the_data_and_an_own_recipe():
    from mmprompts.data.miniworld import WORLD_VERSION

    assert settings("mini", device="cpu").verdict_scope == \
        f"the mini world (mini-clip on the procedural tasks, version {WORLD_VERSION}; the mini recipe)"
    assert "this build’s own recipe" in settings("mini", lr=0.5, device="cpu").verdict_scope
    assert settings("paper", data_root="/data", device="cpu").verdict_scope == "ViT-B/16, CoOp data"
    assert settings("paper", data_root="/data", device="cpu", epochs=2).verdict_scope == "ViT-B/16, CoOp data, own recipe"


def test_grid_datasets_are_some_of_the_datasets():
    assert settings("mini", datasets=["badges", "land"], grid_datasets=["land"], device="cpu").sensitivity_datasets == ("land",)
    assert settings("paper", data_root="/data").sensitivity_datasets == settings("paper", data_root="/data").datasets
    with pytest.raises(ValueError, match=r"grid_datasets=\['dtd'\]: give some of datasets"):
        settings("mini", datasets=["badges"], grid_datasets=["dtd"], device="cpu")


def test_from_parameters_reads_a_notebook_namespace():
    namespace = {"profile": "mini", **{name: None for name in PARAMETERS}, "shots": 4}
    assert from_parameters(namespace).shots == 4
    # what else a notebook holds before its first cell: modules, functions, private names
    assert from_parameters({**namespace, "np": statistics, "settings": settings, "_i1": "x = 1"}).shots == 4


def test_an_unknown_notebook_parameter_is_named_with_the_known_ones():
    """papermill's `-p shotz 4` only warns and defines `shotz`; the page's first cell must stop on it."""
    namespace = {"profile": "mini", **{name: None for name in PARAMETERS}, "shotz": 4}
    with pytest.raises(ValueError, match=r"^unknown parameter 'shotz'; known: \['profile', 'model', 'pretrained'"):
        from_parameters(namespace)


@pytest.mark.parametrize("old, new", [("learned", "imported_prompts"), ("workers", "processes")])
def test_a_renamed_parameter_names_its_new_name(old, new):
    message = f"^unknown parameter '{old}': it is called '{new}' now"
    with pytest.raises(ValueError, match=message):
        from_parameters({"profile": "mini", **{name: None for name in PARAMETERS}, old: "x"})
    with pytest.raises(ValueError, match=message):
        settings("mini", **{old: "x"})
    assert new in PARAMETERS and old not in PARAMETERS


def test_one_epoch_means_no_warm_up_unless_one_is_given():
    assert settings("mini", epochs=1).recipe.warmup_epochs == 0
    assert settings("paper", epochs=5).recipe.warmup_epochs == 1
    with pytest.raises(ValueError, match=r"warmup_epochs=1: must be an integer in 0..0 with epochs=1"):
        settings("mini", epochs=1, warmup_epochs=1)


@pytest.mark.parametrize("kwargs, message", [
    ({"profile": "laptop"}, "unknown profile 'laptop'"),
    ({"datasets": ["objects", "imagenette"]}, "unknown \\['imagenette'\\]"),
    ({"shots": "16"}, "shots='16': must be an integer"),
    ({"seeds": [1, "2"]}, "seeds=\\[1, '2'\\]: must be a list of integers"),
    ({"epochs": 0}, "epochs=0"),
    ({"depths": [0, 1]}, "must be >= 1"),
    ({"device": "gpu"}, "device='gpu'"),
    ({"colour": "red"}, "unknown parameter 'colour'"),
    ({"seeds": [1, 2, 1]}, r"seeds=\[1, 2, 1\]: seed 1 is given 2 times, which would count one run as several"),
    ({"seeds": [2**40]}, r"seed=1099511627776: must be an integer in 0..4294967295"),
])
def test_bad_parameters_name_the_value(kwargs, message):
    profile = kwargs.pop("profile", "mini")
    with pytest.raises(ValueError, match=message):
        settings(profile, **kwargs)


def test_paper_tables_are_consistent():
    # Table 1's PROMPT column is Table 3's 1+1 row; both zero-shot columns agree with Table 2's.
    for dataset in paper.PAPER_DATASETS:
        assert paper.TABLE1[dataset]["prompt"] == pytest.approx(paper.TABLE3[dataset][1], abs=0.05)
        assert paper.TABLE1[dataset]["zeroshot"] == paper.TABLE2[dataset][0] == paper.TABLE3[dataset][0]
        assert len(paper.TABLE2[dataset]) == 13
    # The paper's printed averages.
    assert statistics.fmean(paper.TABLE1[d]["bias"] for d in paper.PAPER_DATASETS) == pytest.approx(79.5, abs=0.05)
    assert statistics.fmean(paper.TABLE2[d][10] for d in paper.PAPER_DATASETS) == pytest.approx(79.37, abs=0.01)


def test_specs_cover_each_table_once():
    t1 = table1_specs(["a"], [1, 2], layers=4)
    assert len(t1) == len(set(t1))
    assert RunSpec("a", PromptConfig.bias(range(4)), 2) in t1 and RunSpec("a", PromptConfig.prompts(1, 4), 1) in t1
    # OPTIMAL is the paper's Table 3 row "20 prompts": 10 + 10 in every block
    assert RunSpec("a", PromptConfig.prompts(10, 4), 2) in t1
    # (1,4), bias, (10,4) per seed, and one zero-shot; no Table 2/3 run is forced in
    assert len(t1) == 1 + 2 * 3
    assert len(table2_specs(["a", "b"], [1], [1, 2, 3])) == 2 + 6
    assert len(table3_specs(["a"], [1, 2, 3], 12, [1, 2])) == 1 + 6


def _fake_results() -> dict[RunSpec, float]:
    results = {RunSpec("objects"): 90.0, RunSpec("eurosat"): 50.0}
    for seed, (p, b) in zip((1, 2, 3), ((70.0, 80.0), (72.0, 84.0), (74.0, 82.0))):
        results[RunSpec("eurosat", PromptConfig.prompts(1, 12), seed)] = p
        results[RunSpec("eurosat", PromptConfig.bias(range(12)), seed)] = b
        results[RunSpec("eurosat", PromptConfig.prompts(4, 12), seed)] = p + 10
        results[RunSpec("eurosat", PromptConfig.prompts(4, 6), seed)] = p + 5
        results[RunSpec("eurosat", PromptConfig.prompts(10, 12), seed)] = p + 8
        # not a symmetric prompt setting: `best_prompt_setting` must not pick it
        results[RunSpec("eurosat", PromptConfig.vision_only(4, 12), seed)] = p + 20
    return results


def test_table1_aggregates_mean_std_paper_and_delta():
    rows = table1(_fake_results(), ["eurosat"], layers=12)["eurosat"]
    assert rows["zeroshot"].mean == 50.0 and rows["zeroshot"].paper == 48.4
    assert rows["prompt"].mean == pytest.approx(72.0) and rows["prompt"].std == pytest.approx(2.0)
    assert rows["bias"].mean == pytest.approx(82.0) and rows["bias"].delta == pytest.approx(82.0 - 86.5)
    assert rows["optimal"].mean == pytest.approx(80.0) and rows["optimal"].paper == 82.6  # 10+10, not the best run
    best, cell = best_prompt_setting(_fake_results(), "eurosat")
    assert best == PromptConfig.prompts(4, 12) and cell.mean == pytest.approx(82.0)


def test_table2_maps_depth_to_the_papers_column_and_table3_counts():
    results = _fake_results()
    rows = table2(results, ["eurosat"], [6, 12], layers=12)["eurosat"]
    assert rows[6].mean == pytest.approx(77.0) and rows[6].paper == paper.TABLE2["eurosat"][6]
    shallow = table2(results, ["eurosat"], [6], layers=24)["eurosat"]  # half depth of a 24-block model
    assert shallow[6].paper == paper.TABLE2["eurosat"][3]
    counts = table3(results, ["eurosat"], 12, [1, 4, 20])["eurosat"]
    assert counts[4].mean == pytest.approx(82.0) and counts[20] is None


def test_mini_tasks_compare_with_their_analogue_and_render():
    rows = zero_shot_table(_fake_results(), ["objects"])
    assert rows["objects"]["zeroshot"].paper == paper.TABLE1["imagenet"]["zeroshot"]
    text = to_markdown(rows, {"zeroshot": "zero-shot"})
    assert "objects (ImageNet)" in text and "90.00 · paper 66.70 · Δ +23.30" in text
    table = list(csv.DictReader(io.StringIO(to_csv(rows, {"zeroshot": "zero-shot"}))))
    assert table == [{"dataset": "objects", "paper_dataset": "imagenet", "column": "zero-shot", "mean": "90.0000",
                      "std": "0.0000", "runs": "1", "paper": "66.70", "delta": "23.30", "status": "ok"}]


def test_the_average_row_recomputes_the_papers_average_over_the_datasets_shown():
    from mmprompts.tables import Cell, with_average

    rows = {"eurosat": {"bias": Cell(80.0, 3.0, 3, 86.5)}, "dtd": {"bias": Cell(70.0, 4.0, 3, 69.6)}}
    average = with_average(rows)["average over shown"]["bias"]
    assert average.mean == pytest.approx(75.0) and average.paper == pytest.approx((86.5 + 69.6) / 2)
    assert average.std == pytest.approx(5.0 / 2)  # sqrt(3² + 4²) / 2
    assert with_average({"a": {"bias": Cell(1.0, 0.0, 1, None)}})["average over shown"]["bias"].paper is None


def test_bias_wins_counts_noise_over_the_winning_datasets_only():
    from mmprompts.tables import Cell, bias_wins

    rows = {"a": {"bias": Cell(80.0, 1.0, 3, None), "prompt": Cell(79.5, 0.8, 3, None)},   # wins within noise
            "b": {"bias": Cell(80.0, 1.0, 3, None), "prompt": Cell(75.0, 2.0, 3, None)},   # wins beyond noise
            "c": {"bias": Cell(70.0, 0.1, 3, None), "prompt": Cell(70.05, 0.1, 3, None)}}  # loses: not counted
    wins = bias_wins(rows)
    assert [w["dataset"] for w in wins] == ["a", "b"]
    assert [w["within one seed std"] for w in wins] == ["yes", "no"]
    assert wins[1]["BIAS − PROMPT"] == pytest.approx(5.0) and wins[1]["larger seed std"] == 2.0


def test_appendix_e_drops_dtd_and_eurosat():
    from mmprompts.data.coop import DATASETS
    from mmprompts.paper import appendix_e_datasets

    # CoOp's templates: App. E drops exactly DTD and EuroSAT
    templates = {name: spec.template for name, spec in DATASETS.items()}
    assert sorted(set(templates) - set(appendix_e_datasets(templates))) == ["dtd", "eurosat"]


def test_the_readme_lists_exactly_the_notebook_parameters():
    """README's parameter list is the one in `profiles.PARAMETERS`, in its order (a renamed parameter fails here)."""
    import re

    from mmprompts.profiles import PARAMETERS
    from mmprompts.storage import project_root

    readme = (project_root() / "README.md").read_text()
    listed = readme[readme.index("one variable per setting"):readme.index("`mmprompts.profiles.PARAMETERS`")]
    assert re.findall(r"`(\w+)`", listed) == list(PARAMETERS)
