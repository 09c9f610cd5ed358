"""Table 1's verdicts in the two designs of the mini world (mmprompts.worlds): known names and novel vocabulary."""
from __future__ import annotations

from mmprompts.claims import CONTRADICTS, decide_bias_beats_prompts, decide_zero_shot_weak
from mmprompts.data.miniworld import PAPER_ANALOGUES
from mmprompts.experiments import RunSpec
from mmprompts.presets import table1_methods
from mmprompts.worlds import dependence_rows, flipped, table1_seed_accuracies, world_dependence, world_designs, world_tasks

LAYERS = 12


def test_world_designs_swap_each_task_for_its_ablation():
    designs = world_designs(PAPER_ANALOGUES)
    assert designs["known names"] == PAPER_ANALOGUES
    assert designs["novel vocabulary"] == tuple("land-novel" if d == "land" else d for d in PAPER_ANALOGUES)
    assert world_designs(["objects", "badges"]) == {}  # no task with an ablation
    assert world_tasks(PAPER_ANALOGUES) == [*PAPER_ANALOGUES, "land-novel"] and world_tasks(["dtd"]) == ["dtd"]
    assert world_designs(["eurosat", "land"]) == {}  # not a mini world


def _accuracies(per_task: dict[str, tuple[float, float, float, float]]) -> dict:
    """zero-shot, then prompt/bias/optimal of seeds 1-3 at the given means with spreads of ±0.5."""
    methods = table1_methods(LAYERS)
    out = {}
    for task, (zero, prompt, bias, optimal) in per_task.items():
        out[RunSpec(task)] = zero
        for column, mean in (("prompt", prompt), ("bias", bias), ("optimal", optimal)):
            for seed, offset in zip((1, 2, 3), (-0.5, 0.0, 0.5)):
                out[RunSpec(task, methods[column], seed)] = mean + offset
    return out


def test_world_dependence_decides_both_designs_and_names_what_flips():
    # bias ties same-size prompts on the known-name tasks, and falls far behind on the ablation only
    per_task = {d: (60.0, 70.0, 70.0, 75.0) for d in PAPER_ANALOGUES}
    per_task["land"] = (35.0, 70.0, 70.0, 75.0)
    per_task["land-novel"] = (10.0, 70.0, 15.0, 75.0)
    accuracies = _accuracies(per_task)
    results = {r.claim: r for r in world_dependence(accuracies, PAPER_ANALOGUES, LAYERS)}

    beats = results["bias.beats-same-size-prompts"]
    novel = world_designs(PAPER_ANALOGUES)["novel vocabulary"]
    seeds = table1_seed_accuracies(accuracies, novel, LAYERS)
    expected = decide_bias_beats_prompts(seeds["bias"], seeds["prompt"])  # the rule on the swapped world, directly
    assert beats.verdicts["novel vocabulary"].outcome == expected.outcome == CONTRADICTS
    assert beats.verdicts["novel vocabulary"].sentence == expected.sentence
    assert beats.verdicts["known names"].outcome != CONTRADICTS and beats.flips

    zero = results["zeroshot.weak-where-images-differ"]
    known_zero = {d: per_task[d][0] for d in PAPER_ANALOGUES}
    items = {d: n for d, n in zip(PAPER_ANALOGUES, (1000, 600, 400, 500, 500, 300))}
    assert zero.verdicts["known names"].outcome == decide_zero_shot_weak(
        known_zero, items, {"objects": "imagenet", "badges": "oxford_flowers", "textures": "dtd", "places": "sun397",
                            "land": "eurosat", "relations": "ucf101"}).outcome

    rows = dependence_rows(list(results.values()))
    assert len(rows) == 2 * len(results) and {r["world"] for r in rows} == {"known names", "novel vocabulary"}
    sentence = flipped(list(results.values()))
    assert "bias.beats-same-size-prompts" in sentence and "known names → novel vocabulary" in sentence


def test_nothing_flips_when_the_ablation_behaves_like_its_task():
    per_task = {d: (60.0, 70.0, 72.0, 75.0) for d in (*PAPER_ANALOGUES, "land-novel")}
    results = world_dependence(_accuracies(per_task), PAPER_ANALOGUES, LAYERS)
    assert results and not any(r.flips for r in results)
    assert flipped(results) == f"None of the {len(results)} statements changes its verdict with the world design."
