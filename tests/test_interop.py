"""Methods as values (run keys, presets, tables) and checkpoints of the MaPLe/PromptSRC and CoOp code bases."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from types import ModuleType, SimpleNamespace

import pytest
import torch

import mmprompts as mp
from mmprompts import PromptConfig
from mmprompts.experiments import RunSpec
from mmprompts.methods import method_config, method_label
from mmprompts.presets import preset_specs
from mmprompts.profiles import settings
from mmprompts.runs import TRAINER_VERSION, run_config, run_key
from mmprompts.storage import CodeInCheckpoint
from mmprompts.presets import preset_specs
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


# ---------------------------------------------------------------- checkpoints of other code bases
NAMES = ["cat", "sea_lion", "red cube"]


def backbone(clip: mp.LoadedCLIP) -> dict[str, torch.Tensor]:
    """The frozen CLIP as the MaPLe code base's CustomCLIP saves it (fp16, PREC "fp16")."""
    out = {}
    for key, value in clip.model.state_dict().items():
        if key.startswith("visual."):
            out["image_encoder." + key.removeprefix("visual.")] = value.half()
        elif key.startswith(("transformer.", "positional_embedding", "ln_final.", "text_projection")):
            out["text_encoder." + key] = value.half()
        elif key == "logit_scale":
            out[key] = value.half()
    return out


def fixed_tokens(clip: mp.LoadedCLIP, prefix: str, n_ctx: int) -> dict[str, torch.Tensor]:
    """token_prefix / token_suffix: the embedded "<prefix> <class>." around the context (ignored on load)."""
    embedded = clip.model.token_embedding(clip.tokenizer([f"{prefix} {n.replace('_', ' ')}." for n in NAMES])).detach()
    return {"token_prefix": embedded[:, :1].half(), "token_suffix": embedded[:, 1 + n_ctx:].half()}


def random_prompts(count: int, n_ctx: int, width: int, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(n_ctx, width, generator=generator) * 0.5).half() for _ in range(count)]


def dassl_checkpoint(path, state: dict[str, torch.Tensor]) -> None:
    """Dassl's save_checkpoint; its warm-up scheduler's state holds a pickled successor scheduler."""
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=0.0035)
    successor = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 5.0)
    torch.save({"state_dict": state, "epoch": 5, "optimizer": optimizer.state_dict(),
                "scheduler": {"successor": successor, "warmup_epoch": 1, "cons_lr": 1e-5}, "val_result": None}, path)


def reference_image(clip: mp.LoadedCLIP, prompts: list[torch.Tensor], images: torch.Tensor) -> torch.Tensor:
    """The MaPLe code base's VisionTransformer + IVLP blocks, written out with open_clip's blocks."""
    v = clip.model.visual
    x = v.conv1(images).flatten(2).transpose(1, 2)
    x = torch.cat([v.class_embedding.expand(len(x), 1, -1), x], dim=1) + v.positional_embedding
    if prompts:  # after the positional embedding, before ln_pre; the source casts with .half()
        x = torch.cat([x, prompts[0].half().float().expand(len(x), -1, -1)], dim=1)
    x = v.ln_pre(x)
    for i, block in enumerate(v.transformer.resblocks):
        if 1 <= i < len(prompts):  # VPT_shallow replaces the previous block's prompt outputs
            x = torch.cat([x[:, : -len(prompts[i])], prompts[i].half().float().expand(len(x), -1, -1)], dim=1)
        x = block(x)
    return v.ln_post(x[:, 0]) @ v.proj


def reference_text(clip: mp.LoadedCLIP, prefix: str, prompts: list[torch.Tensor]) -> torch.Tensor:
    """The code base's prompt learner + TextEncoder: [sos, ctx, suffix] of "<prefix> <class>.", deep VPT_shallow."""
    m = clip.model
    tokens = clip.tokenizer([f"{prefix} {n.replace('_', ' ')}." for n in NAMES])
    x = m.token_embedding(tokens)
    for i, block in enumerate(m.transformer.resblocks):
        if i < len(prompts):
            x = torch.cat([x[:, :1], prompts[i].float().expand(len(x), -1, -1), x[:, 1 + len(prompts[i]):]], dim=1)
        if i == 0:
            x = x + m.positional_embedding
        x = block(x, attn_mask=m.attn_mask)
    x = m.ln_final(x)
    return x[torch.arange(len(x)), tokens.argmax(-1)] @ m.text_projection


def assert_features(model: mp.PromptedCLIP, clip, images, vision, prefix, text) -> None:
    with torch.no_grad():
        image_error = (model.encode_image(images) - reference_image(clip, vision, images)).abs().max()
        if text is None:  # VPT: the fixed "a photo of a <class>." through the zero-shot text tower
            expected = clip.model.encode_text(clip.tokenizer([f"a photo of a {n.replace('_', ' ')}." for n in NAMES]))
        else:
            expected = reference_text(clip, prefix, text)
        text_error = (model.encode_text(model.prompt_texts(NAMES)) - expected).abs().max()
    assert image_error <= 1e-5 and text_error <= 1e-5, (image_error, text_error)


@pytest.mark.parametrize("n_text, depth_text, n_vision, depth_vision, prefix", [
    (2, 3, 3, 2, "a photo of a"),  # CTX_INIT's first two words are learned, "of a" stays text
    (6, 2, 2, 3, "X X X X X X"),  # more than 4 prompts: the code base ignores CTX_INIT
    (4, 3, 0, 0, "a photo of a"),  # the language-only IVLP config
], ids=["ivlp", "ivlp-6-prompts", "ivlp-language-only"])
def test_ivlp_and_promptsrc_checkpoints(tiny_clip, images, tmp_path, n_text, depth_text, n_vision, depth_vision, prefix):
    width_v, width_t = tiny_clip.model.visual.transformer.width, tiny_clip.model.transformer.width
    text = random_prompts(depth_text, n_text, width_t, seed=1)
    vision = random_prompts(depth_vision, n_vision, width_v, seed=2)
    state = {"prompt_learner.ctx": text[0], **{f"prompt_learner.{k}": v for k, v in fixed_tokens(tiny_clip, prefix, n_text).items()},
             **{f"text_encoder.transformer.resblocks.{i}.VPT_shallow": t for i, t in enumerate(text) if i},
             **backbone(tiny_clip)}
    if vision:
        state["image_encoder.VPT"] = vision[0]
        state.update({f"image_encoder.transformer.resblocks.{i}.VPT_shallow": t for i, t in enumerate(vision) if i})
    dassl_checkpoint(tmp_path / "model.pth.tar-5", state)

    model = mp.import_prompts(tmp_path / "model.pth.tar-5", tiny_clip)
    assert model.config == mp.PromptConfig(n_ctx_vision=n_vision, n_ctx_text=n_text, depth_vision=depth_vision,
                                           depth_text=depth_text, ctx_init="" if prefix.startswith("X") else prefix)
    assert model.prompt_texts(["sea_lion"]) == [f"{prefix} sea lion."]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert_features(model, tiny_clip, images, vision, prefix, text)


def test_vpt_checkpoint(tiny_clip, images, tmp_path):
    vision = random_prompts(3, 4, tiny_clip.model.visual.transformer.width, seed=3)
    state = {"image_encoder.VPT": vision[0], **backbone(tiny_clip),
             **{f"image_encoder.transformer.resblocks.{i}.VPT_shallow": t for i, t in enumerate(vision) if i}}
    dassl_checkpoint(tmp_path / "model-best.pth.tar", state)
    model = mp.import_prompts(tmp_path / "model-best.pth.tar", tiny_clip)
    assert (model.config.n_ctx_vision, model.config.depth_vision, model.config.n_ctx_text) == (4, 3, 0)
    assert_features(model, tiny_clip, images, vision, "", None)


def test_maple_checkpoint_with_dataparallel_prefix(tiny_clip, images, tmp_path):
    width_v, width_t = tiny_clip.model.visual.transformer.width, tiny_clip.model.transformer.width
    generator = torch.Generator().manual_seed(4)
    text = random_prompts(3, 2, width_t, seed=5)  # ctx, compound_prompts_text.0, .1: PROMPT_DEPTH 3
    projections = [(torch.randn(width_v, width_t, generator=generator).half(), torch.randn(width_v, generator=generator).half())
                   for _ in text]
    state = {"prompt_learner.ctx": text[0], "prompt_learner.proj.weight": projections[0][0],
             "prompt_learner.proj.bias": projections[0][1], **backbone(tiny_clip),
             **{f"prompt_learner.{k}": v for k, v in fixed_tokens(tiny_clip, "a photo of a", 2).items()}}
    for j, (t, (w, b)) in enumerate(zip(text[1:], projections[1:])):
        state[f"prompt_learner.compound_prompts_text.{j}"] = t
        state[f"prompt_learner.compound_prompt_projections.{j}.weight"] = w
        state[f"prompt_learner.compound_prompt_projections.{j}.bias"] = b
    dassl_checkpoint(tmp_path / "model.pth.tar-2", {"module." + k: v for k, v in state.items()})

    model = mp.import_prompts(tmp_path / "model.pth.tar-2", tiny_clip)
    assert model.config == mp.PromptConfig.prompts(2, 3)
    # the source computes the vision prompts in fp16: proj(ctx), projection_j(compound_j)
    vision = [torch.nn.functional.linear(t.float(), w.float(), b.float()).half() for t, (w, b) in zip(text, projections)]
    assert_features(model, tiny_clip, images, vision, "a photo of a", text)


def test_coop_checkpoint(tiny_clip, images, tmp_path):
    ctx = random_prompts(1, 4, tiny_clip.model.transformer.width, seed=6)
    # CTX_INIT "a photo of a": all four words are learned, so the prefix words never reach the model
    torch.save({"state_dict": {"ctx": ctx[0], **fixed_tokens(tiny_clip, "a photo of a", 4)}, "epoch": 50}, tmp_path / "ckpt")
    model = mp.import_prompts(tmp_path / "ckpt", tiny_clip)
    assert model.config == mp.PromptConfig(n_ctx_text=4, depth_text=1, ctx_init="")
    assert_features(model, tiny_clip, images, [], "a photo of a", ctx)


@pytest.mark.parametrize("config, fmt", [
    (mp.PromptConfig(n_ctx_vision=2, n_ctx_text=3, depth_vision=3, depth_text=2), "ivlp"),
    (mp.PromptConfig(n_ctx_text=6, depth_text=3, ctx_init=""), "ivlp"),
    (mp.PromptConfig.vision_only(3, 2), "vpt"),
    (mp.PromptConfig(n_ctx_text=4, depth_text=1, ctx_init=""), "coop"),
])
def test_export_then_import_is_the_identity(tiny_clip, images, tmp_path, config, fmt):
    torch.manual_seed(7)
    model = mp.PromptedCLIP(tiny_clip, config)
    settings = mp.export_prompts(model, tmp_path / "out" / "model.pth.tar-1", format=fmt)
    # "fp32": the tensors as written ("auto" would round VPT/VPT_shallow as the peer's forward does)
    back = mp.import_prompts(tmp_path / "out" / "model.pth.tar-1", tiny_clip, ctx_init=settings.get("CTX_INIT", ""),
                             precision="fp32")
    assert back.learned_state().keys() == model.learned_state().keys()
    assert all(torch.equal(back.learned_state()[k], v) for k, v in model.learned_state().items())
    assert back.prompt_texts(NAMES) == model.prompt_texts(NAMES)
    with torch.no_grad():
        assert torch.equal(back.encode_image(images), model.encode_image(images))
        assert torch.equal(back.encode_text(back.prompt_texts(NAMES)), model.encode_text(model.prompt_texts(NAMES)))
    if fmt == "ivlp":
        assert settings == {"N_CTX_VISION": config.n_ctx_vision, "PROMPT_DEPTH_VISION": config.depth_vision,
                            "N_CTX_TEXT": config.n_ctx_text, "PROMPT_DEPTH_TEXT": config.depth_text,
                            "CTX_INIT": config.ctx_init}


# ---------------------------------------------------------------- bad inputs
def _ivlp_state(clip, n_vision=2, depth=2, width_v=None) -> dict[str, torch.Tensor]:
    width_v = width_v or clip.model.visual.transformer.width
    vision = random_prompts(depth, n_vision, width_v, seed=8)
    return {"prompt_learner.ctx": random_prompts(1, 2, clip.model.transformer.width, seed=9)[0],
            "image_encoder.VPT": vision[0],
            **{f"image_encoder.transformer.resblocks.{i}.VPT_shallow": t for i, t in enumerate(vision) if i}}


@pytest.mark.parametrize("case, message", [
    ("unknown", r"unknown checkpoint layout: keys \['prompt_learner.meta_net.weight'\]"),
    ("csc", r"class-specific CoOp contexts \(CSC, ctx \[3, 4, 48\]\) are not supported"),
    ("width", r"image_encoder.VPT has shape \[2, 768\], but the model's vision width is 64"),
    ("depth", r"VPT_shallow: vision prompts in 5 blocks, but the model's vision tower has 3"),
    ("gap", r"VPT_shallow of blocks \[1, 3\], expected 1, 2, ... consecutive"),
    ("backbone", r"backbone weight image_encoder.conv1.weight differs from the model's visual.conv1.weight"),
    ("architecture", r"backbone weight image_encoder.attnpool.c_proj.weight \[4\] has no counterpart"),
    ("start token", r"backbone weight prompt_learner.token_prefix differs"),
    ("ctx_init", r"ctx_init='a photo' has fewer words than the checkpoint's 3 text prompts"),
    ("not a checkpoint", r"is not a PyTorch checkpoint"),
    ("1-D", r"prompt_learner.ctx has shape \[48\]: prompts are a 2-D \[n_ctx, width\] tensor per block"),
    ("nan", r"image_encoder.VPT holds non-finite values \(NaN or inf\): the run that wrote it diverged"),
    ("object entry", r"state dict entry 'prompt_learner.ctx' is a pickled torch.optim.sgd.SGD \(not loaded\)"),
    ("no tensors", r"state dict entry 'epoch' is int, not a tensor"),
])
def test_bad_checkpoints(tiny_clip, tmp_path, case, message):
    path, ctx_init = tmp_path / "model.pth.tar-5", "a photo of a"
    state = _ivlp_state(tiny_clip)
    if case == "unknown":
        state = {"prompt_learner.meta_net.weight": torch.zeros(2, 2), **backbone(tiny_clip)}
    elif case == "csc":
        state = {"ctx": torch.zeros(3, 4, 48).half()}
    elif case == "width":
        state = _ivlp_state(tiny_clip, width_v=768)
    elif case == "depth":
        state = _ivlp_state(tiny_clip, depth=5)
    elif case == "gap":  # prompts before blocks 1 and 3, none before block 2
        state["image_encoder.transformer.resblocks.3.VPT_shallow"] = state["image_encoder.transformer.resblocks.1.VPT_shallow"]
    elif case == "backbone":
        state.update(backbone(tiny_clip))
        state["image_encoder.conv1.weight"] = state["image_encoder.conv1.weight"] + 0.01
    elif case == "architecture":
        state["image_encoder.attnpool.c_proj.weight"] = torch.zeros(4)
    elif case == "start token":
        state.update(fixed_tokens(tiny_clip, "a photo of a", 2))
        state["prompt_learner.token_prefix"] = state.pop("token_prefix") * 1.5
    elif case == "ctx_init":
        state["prompt_learner.ctx"] = random_prompts(1, 3, tiny_clip.model.transformer.width, seed=9)[0]
        ctx_init = "a photo"
    elif case == "1-D":
        state["prompt_learner.ctx"] = state["prompt_learner.ctx"][0]
    elif case == "nan":
        state["image_encoder.VPT"] = torch.full_like(state["image_encoder.VPT"], float("nan"))
    elif case == "object entry":
        state["prompt_learner.ctx"] = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    if case == "not a checkpoint":
        path.write_text("epoch: 5\n")
    elif case == "no tensors":
        torch.save({"state_dict": {"epoch": 5}}, path)
    else:
        dassl_checkpoint(path, state)
    with pytest.raises(ValueError, match=message):
        mp.import_prompts(path, tiny_clip, ctx_init=ctx_init)


def test_bad_import_and_export_arguments(tiny_clip, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*missing.pth.tar"):
        mp.import_prompts(tmp_path / "missing.pth.tar", tiny_clip)
    torch.save({"state_dict": {"ctx": torch.zeros(4, 48).half()}}, tmp_path / "coop")
    with pytest.raises(ValueError, match="class_token_position='middle' is not supported"):
        mp.import_prompts(tmp_path / "coop", tiny_clip, class_token_position="middle")
    with pytest.raises(ValueError, match="biases have no place in the ivlp layout"):
        mp.export_prompts(mp.PromptedCLIP(tiny_clip, mp.PromptConfig.bias([0])), tmp_path / "x")
    with pytest.raises(ValueError, match="format='vpt' does not fit"):
        mp.export_prompts(mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(2, 2)), tmp_path / "x", format="vpt")
    with pytest.raises(ValueError, match="format='maple': export writes"):
        mp.export_prompts(mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(2, 2)), tmp_path / "x", format="maple")


def test_precision_auto_rounds_what_the_peer_casts(tiny_clip, images, tmp_path):
    """IVLP keeps VPT / VPT_shallow in fp32 and casts them with .half() in its forward; ctx enters as stored."""
    width_v, width_t = tiny_clip.model.visual.transformer.width, tiny_clip.model.transformer.width
    generator = torch.Generator().manual_seed(11)
    text = [torch.randn(2, width_t, generator=generator) * 0.5 for _ in range(3)]  # fp32: not fp16 values
    vision = [torch.randn(2, width_v, generator=generator) * 0.5 for _ in range(2)]
    assert not torch.equal(text[1], text[1].half().float())
    state = {"prompt_learner.ctx": text[0], "image_encoder.VPT": vision[0],
             "image_encoder.transformer.resblocks.1.VPT_shallow": vision[1],
             **{f"text_encoder.transformer.resblocks.{i}.VPT_shallow": t for i, t in enumerate(text) if i}}
    dassl_checkpoint(tmp_path / "model.pth.tar-5", state)
    fp16 = [t.half().float() for t in text]
    expected = {  # precision -> (vision, text) tensors the imported model must hold
        "auto": ([t.half().float() for t in vision], [text[0], *fp16[1:]]),
        "fp32": (vision, text),
        "fp16": ([t.half().float() for t in vision], fp16),
    }
    for precision, (want_vision, want_text) in expected.items():
        model = mp.import_prompts(tmp_path / "model.pth.tar-5", tiny_clip, precision=precision)
        held = model.learned_state()
        assert all(torch.equal(held[f"vision_prompts.{i}"], t) for i, t in enumerate(want_vision)), precision
        assert all(torch.equal(held[f"text_prompts.{i}"], t) for i, t in enumerate(want_text)), precision
        if precision == "auto":  # the peer's forward, written from the rounded tensors
            assert_features(model, tiny_clip, images, want_vision, "a photo of a", want_text)
    with pytest.raises(ValueError, match=r"precision='bf16': choose one of \('auto', 'fp32', 'fp16'\)"):
        mp.import_prompts(tmp_path / "model.pth.tar-5", tiny_clip, precision="bf16")


# ---------------------------------------------------------------- nothing of a checkpoint runs
class ConstantWarmupScheduler:
    """Stands for Dassl's scheduler class, pickled in every Dassl checkpoint; restoring it must not run it."""

    def __init__(self, successor):
        self.successor, self.warmup_epoch, self.cons_lr = successor, 1, 1e-5

    def __setstate__(self, state):
        raise AssertionError("the checkpoint's scheduler class was imported and run")


def test_a_dassl_checkpoint_imports_without_importing_its_pickled_classes(tiny_clip, tmp_path, monkeypatch):
    """The scheduler's module (dassl.optim.lr_scheduler) is not installed here: a full unpickle cannot even
    find it; the reader keeps it as an inert placeholder and imports the prompts."""
    for name in ("dassl", "dassl.optim", "dassl.optim.lr_scheduler"):  # only while saving
        monkeypatch.setitem(sys.modules, name, ModuleType(name))
    monkeypatch.setattr(ConstantWarmupScheduler, "__module__", "dassl.optim.lr_scheduler")
    sys.modules["dassl.optim.lr_scheduler"].ConstantWarmupScheduler = ConstantWarmupScheduler
    state = _ivlp_state(tiny_clip)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0035, momentum=0.9)
    scheduler = ConstantWarmupScheduler(torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 5.0))
    torch.save({"state_dict": state, "epoch": 5, "optimizer": optimizer.state_dict(), "scheduler": scheduler}, tmp_path / "ckpt")
    for name in ("dassl", "dassl.optim", "dassl.optim.lr_scheduler"):
        monkeypatch.delitem(sys.modules, name)
    model = mp.import_prompts(tmp_path / "ckpt", tiny_clip)
    assert torch.equal(model.learned_state()["vision_prompts.1"], state["image_encoder.transformer.resblocks.1.VPT_shallow"].float())


def _touch(path):
    open(path, "w").close()


class Crafted:
    def __init__(self, call):
        self.call = call

    def __reduce__(self):
        return self.call


@pytest.mark.parametrize("call, message", [
    (lambda marker: (_touch, (str(marker),)), r"it would call test_interop._touch\('/.* when unpickled"),
    (lambda marker: (os.system, (f"touch {marker}",)), r"it refers to posix.system, which runs commands"),
], ids=["function", "os.system"])
def test_a_crafted_checkpoint_runs_nothing_and_says_why(tiny_clip, tmp_path, call, message):
    marker = tmp_path / "marker"
    state = _ivlp_state(tiny_clip)
    torch.save({"state_dict": state, "epoch": 5, "scheduler": Crafted(call(marker))}, tmp_path / "ckpt")
    with pytest.raises(CodeInCheckpoint, match=message + r"; nothing of it was run or imported"):
        mp.import_prompts(tmp_path / "ckpt", tiny_clip)
    assert not marker.exists()


# ---------------------------------------------------------------- this library's own run files
def test_a_learned_pt_of_the_run_cache_imports_with_its_runs_method(tiny_clip, images, tmp_path):
    method = PromptConfig(n_ctx_vision=2, n_ctx_text=3, depth_vision=2, depth_text=3, bias_vision=(1,))
    torch.manual_seed(12)
    trained = mp.PromptedCLIP(tiny_clip, method)
    folder = tmp_path / "runs" / "abc"
    folder.mkdir(parents=True)
    config = run_config(tiny_clip, SimpleNamespace(name="eurosat", fingerprint="f"), method, 16, 1, Recipe())
    (folder / "config.json").write_text(json.dumps(config))
    torch.save(trained.learned_state(), folder / "learned.pt")
    model = mp.import_prompts(folder / "learned.pt", tiny_clip)
    assert model.config == method
    assert all(torch.equal(model.learned_state()[k], v) for k, v in trained.learned_state().items())
    (folder / "config.json").write_text(json.dumps({**config, "model": "ViT-B-16-quickgelu:openai"}))
    with pytest.raises(ValueError, match=r"was trained on model 'ViT-B-16-quickgelu:openai', not 'mmprompts-test-tiny"):
        mp.import_prompts(folder / "learned.pt", tiny_clip)
    (folder / "config.json").unlink()
    with pytest.raises(ValueError, match=r"holds this library's learned tensors, but .*config.json"):
        mp.import_prompts(folder / "learned.pt", tiny_clip)


def test_export_to_a_folder_names_it(tiny_clip, tmp_path):
    with pytest.raises(ValueError, match=rf"'{tmp_path}' is a folder; give a file name, e.g. '{tmp_path}/model.pth.tar-1'"):
        mp.export_prompts(mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(2, 2)), tmp_path)
    with pytest.raises(FileNotFoundError, match=rf"'{tmp_path}' is a folder, not a checkpoint file"):
        mp.import_prompts(tmp_path, tiny_clip)


# ---------------------------------------------------------------- the analysis pages' hook
def test_analysis_model_uses_the_learned_checkpoint(tiny_clip, images, tmp_path):
    from mmprompts.data import load_dataset
    from mmprompts.data.toy import make_toy_dataset
    from mmprompts.analysis_inputs import analysis_model

    torch.manual_seed(3)
    trained_elsewhere = mp.PromptedCLIP(tiny_clip, mp.PromptConfig.prompts(2, 3))
    with torch.no_grad():  # the peer's forward uses its vision prompts in fp16 (import_prompts' precision="auto")
        for prompt in trained_elsewhere.vision_prompts:
            prompt.copy_(prompt.half().float())
    mp.export_prompts(trained_elsewhere, tmp_path / "VLPromptLearner" / "model.pth.tar-5")
    make_toy_dataset(tmp_path / "data", "eurosat", per_class=(2, 1, 1), size=32)
    data = load_dataset("eurosat", str(tmp_path / "data"))
    config = settings("paper", imported_prompts=str(tmp_path / "VLPromptLearner" / "model.pth.tar-5"), data_root=str(tmp_path / "data"),
                      cache=str(tmp_path / "cache"), device="cpu")
    model = analysis_model(config, tiny_clip, data)
    with torch.no_grad():
        assert torch.equal(model.encode_image(images), trained_elsewhere.encode_image(images))
    assert not (tmp_path / "cache").exists()  # nothing trained
    with pytest.raises(ValueError, match="imported_prompts=5: must be a string or None"):
        settings("mini", imported_prompts=5)
