"""Methods as values (run keys, presets, tables) and checkpoints of the MaPLe/PromptSRC and CoOp code bases."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from types import SimpleNamespace

import pytest

from mmprompts import PromptConfig
from mmprompts.experiments import RunSpec, method_config, method_label
from mmprompts.profiles import settings
from mmprompts.runs import TRAINER_VERSION, run_config, run_key
from mmprompts.sweep import preset_specs
from mmprompts.tables import preset_tables
from mmprompts.train import Recipe

# ---------------------------------------------------------------- run keys
CLIP = SimpleNamespace(identity={"model": "ViT-B-16-quickgelu", "pretrained": "openai"})
DATA = SimpleNamespace(name="eurosat", fingerprint="abc123")
ORIGINAL_DEFAULTS = {"n_ctx_vision": 0, "n_ctx_text": 0, "depth_vision": 0, "depth_text": 0, "bias_vision": [],
                     "bias_text": [], "ctx_init": "a photo of a", "init_std": 0.02}


def key_the_old_way(method: dict | None, shots: int, seed: int) -> str:
    """How run keys were computed when RunSpec.method was a string: asdict of the 8 original fields."""
    config = {"trainer": TRAINER_VERSION, "model": CLIP.identity, "dataset": DATA.name, "data": DATA.fingerprint,
              "method": "zeroshot" if method is None else {**ORIGINAL_DEFAULTS, **method}, "shots": shots,
              "seed": seed, "recipe": Recipe().as_dict()}
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:20]


@pytest.mark.parametrize("config, fields", [
    (None, None),
    (PromptConfig.prompts(4, 12), {"n_ctx_vision": 4, "n_ctx_text": 4, "depth_vision": 12, "depth_text": 12}),
    (PromptConfig.bias(range(3)), {"bias_vision": [0, 1, 2], "bias_text": [0, 1, 2]}),
    (PromptConfig.text_only(16), {"n_ctx_text": 16, "depth_text": 1}),
    (PromptConfig(n_ctx_vision=2, depth_vision=5, ctx_init="", init_std=0.1),
     {"n_ctx_vision": 2, "depth_vision": 5, "ctx_init": "", "init_std": 0.1}),
])
def test_run_keys_of_existing_configs_are_unchanged(config, fields):
    assert run_key(run_config(CLIP, DATA, config, 16, 2, Recipe())) == key_the_old_way(fields, 16, 2)


def test_a_new_field_with_its_default_keeps_every_key():
    Extended = dataclasses.make_dataclass("Extended", [("prompt_dropout", float, 0.0)], bases=(PromptConfig,), frozen=True)
    base = PromptConfig.prompts(4, 12)
    key = run_key(run_config(CLIP, DATA, base, 16, 1, Recipe()))
    assert run_key(run_config(CLIP, DATA, Extended(**dataclasses.asdict(base)), 16, 1, Recipe())) == key
    changed = Extended(**dataclasses.asdict(base), prompt_dropout=0.1)
    assert run_key(run_config(CLIP, DATA, changed, 16, 1, Recipe())) != key


# ---------------------------------------------------------------- methods as values
def test_method_names_labels_and_specs():
    made = {name: method_config(name, 4, 3, 12) for name in ("prompts", "shallow", "text", "vision", "bias")}
    assert made == {
        "prompts": PromptConfig(n_ctx_vision=4, n_ctx_text=4, depth_vision=3, depth_text=3),
        "shallow": PromptConfig(n_ctx_vision=4, n_ctx_text=4, depth_vision=1, depth_text=1),
        "text": PromptConfig(n_ctx_text=4, depth_text=1),
        "vision": PromptConfig(n_ctx_vision=4, depth_vision=3),
        "bias": PromptConfig(bias_vision=tuple(range(12)), bias_text=tuple(range(12))),
    }
    assert [method_label(m) for m in made.values()] == [
        "4+4 prompts, depth 3", "4+4 prompts, depth 1 (shallow)", "4 text prompts (CoOp)",
        "4 vision prompts, depth 3 (VPT)", "bias after 12 blocks"]
    assert method_label(None) == "zero-shot"
    assert method_label(PromptConfig(n_ctx_text=2, depth_text=2, bias_vision=(1,))) == \
        "2 text prompts, depth 2 + bias after vision blocks [1], text blocks []"
    assert method_config("bias", 4, 3, 12, bias_layers=[0, 5]).bias_text == (0, 5)
    with pytest.raises(ValueError, match="unknown method 'lora'; choose one of"):
        method_config("lora", 4, 3, 12)
    with pytest.raises(TypeError, match="method='prompts': give a PromptConfig"):
        RunSpec("eurosat", "prompts", 1)


def test_every_preset_run_lands_in_its_table():
    """The presets are the only place that says which runs a table holds: a table built from exactly
    the preset's runs has every cell, whatever the profile's n_ctx (Table 2 is always 4+4)."""
    config = settings("mini", n_ctx=2, seeds=[1, 2], depths=[1, 3], prompt_counts=[1, 8])
    layers = 4
    specs = preset_specs("all", config, layers)
    table2_runs = preset_specs("table2", config, layers)
    assert {s.method for s in table2_runs} == {None, PromptConfig.prompts(4, 1), PromptConfig.prompts(4, 3)}
    accuracies = {spec: 50.0 + i for i, spec in enumerate(specs)}
    for caption, table, columns in preset_tables("all", accuracies, config.datasets, layers, config.depths,
                                                 config.prompt_counts):
        for dataset, row in table.items():
            for column in columns:
                assert row[column] is not None, (caption, dataset, column)
                assert row[column].runs == (1 if column in (0, "zeroshot") else 2), (caption, dataset, column)
