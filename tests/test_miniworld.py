"""The mini world (generator, tasks, splits) and the shipped mini CLIP (loading, accuracy, integrity)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import mmprompts as mp
from mmprompts import models, pretrain
from mmprompts.data import load_dataset, miniworld
from mmprompts.prompted import PromptedCLIP
from mmprompts.pretrain import _compact_token_embedding, _restore_token_embedding, _vocabulary_ids, save_sparse_checkpoint
from mmprompts.train import evaluate

SHIPPED = models.SHIPPED_MODELS["mini-clip"]["mini-world"]
MANIFEST = json.loads(SHIPPED.with_name(SHIPPED.name + ".json").read_text())


@pytest.fixture(scope="module")
def mini_root(tmp_path_factory):
    return tmp_path_factory.mktemp("mini-world")


@pytest.fixture(scope="module")
def mini_clip() -> mp.LoadedCLIP:
    return mp.load_clip("mini-clip", "mini-world")


def test_scenes_and_captions_are_a_function_of_the_seed():
    def draw(seed):
        rng = np.random.default_rng(seed)
        scenes = [miniworld.sample_scene(rng) for _ in range(20)]
        return [miniworld.render(s, rng) for s in scenes], [miniworld.caption(s, rng) for s in scenes]

    (a_images, a_captions), (b_images, b_captions) = draw(7), draw(7)
    assert a_captions == b_captions
    assert all(np.array_equal(a, b) for a, b in zip(a_images, b_images))
    assert draw(8)[1] != a_captions
    assert a_images[0].shape == (miniworld.IMAGE_SIZE, miniworld.IMAGE_SIZE, 3) and a_images[0].dtype == np.uint8


def test_single_objects_sit_near_the_centre_and_groups_differ_in_one_attribute():
    rng = np.random.default_rng(3)
    scenes = [miniworld.sample_scene(rng) for _ in range(300)]
    singles = [s.things[0] for s in scenes if len(s.things) == 1]
    assert 150 < len(singles) < 270  # 70% of scenes
    centre = miniworld.IMAGE_SIZE / 2
    assert all(abs(t.x - centre) <= 4 and abs(t.y - centre) <= 4 for t in singles)
    assert all(min(t.x, t.y) - t.radius >= 0 and max(t.x, t.y) + t.radius <= 2 * centre for t in singles)  # never cut
    keys = {"shape": lambda s: tuple(t.shape for t in s.things), "colour": lambda s: tuple(t.colour for t in s.things),
            "texture": lambda s: s.texture, "land": lambda s: s.land}
    for _ in range(50):
        group, varied = miniworld.sample_scene_group(rng, 4)
        for attribute, key in keys.items():
            distinct = len({key(s) for s in group})
            assert distinct == (4 if attribute == varied else 1), (attribute, varied)


def test_captions_use_only_the_learned_vocabulary(mini_clip):
    rng = np.random.default_rng(0)
    captions = [miniworld.caption(miniworld.sample_scene(rng), rng) for _ in range(2000)]
    tokens = mini_clip.tokenizer(captions)
    assert torch.isin(tokens[tokens > 0], _vocabulary_ids(mini_clip.tokenizer)).all()
    assert int((tokens > 0).sum(1).max()) <= mini_clip.context_length


def test_landscapes_are_captioned_with_their_land_and_groups_of_them_differ_in_the_land_only():
    rng = np.random.default_rng(5)
    lands = [s for s in (miniworld.sample_scene(rng) for _ in range(500)) if s.land is not None]
    assert 60 < len(lands) < 140 and {s.land for s in lands} == set(miniworld.LANDS)  # LANDSCAPE_SHARE = 0.2
    for scene in lands[:50]:
        assert f" {scene.land}" in " " + miniworld.caption(scene, rng) and not scene.things
    group, varied = miniworld.sample_scene_group(rng, 4, varied="land")
    assert varied == "land" and len({s.land for s in group}) == 4
    assert len({(s.background, s.texture_params) for s in group}) == 1  # same sky and horizon


def _class_tokens(tokenizer, names) -> torch.Tensor:
    tokens = tokenizer(list(names))
    return tokens[(tokens > 0) & (tokens < 49406)]  # without start and end of text


def test_every_paper_analogue_task_names_its_classes_with_words_pretraining_read(mini_clip):
    vocabulary = _vocabulary_ids(mini_clip.tokenizer)
    for name in miniworld.PAPER_ANALOGUES:
        task = miniworld.MINI_TASKS[name]
        assert torch.isin(_class_tokens(mini_clip.tokenizer, task.classnames), vocabulary).all(), name
        assert torch.isin(_class_tokens(mini_clip.tokenizer, [task.template.format("")]), vocabulary).all(), name
    assert {miniworld.MINI_TASKS[name].analogue for name in miniworld.PAPER_ANALOGUES} == \
        {"imagenet", "oxford_flowers", "dtd", "sun397", "eurosat", "ucf101"}


def test_the_novel_vocabulary_ablation_shows_lands_images_under_names_never_read(mini_clip):
    ablation = miniworld.MINI_TASKS["land-novel"]
    assert miniworld.ABLATIONS == ("land-novel",) and ablation.ablation and ablation.images_of == "land"
    assert not torch.isin(_class_tokens(mini_clip.tokenizer, ablation.classnames),
                          _vocabulary_ids(mini_clip.tokenizer)).any()
    for label in (0, 9):
        assert np.array_equal(miniworld.task_image("land-novel", "test", label, 3),
                              miniworld.task_image("land", "test", label, 3))
    assert not np.array_equal(miniworld.task_image("land", "test", 0, 3), miniworld.task_image("places", "test", 0, 3))


def test_objects_and_relations_draw_what_their_class_names_say(monkeypatch):
    drawn = []
    monkeypatch.setattr(miniworld, "render", lambda scene, rng: drawn.append(scene))
    for label, name in enumerate(miniworld.MINI_TASKS["objects"].classnames):
        miniworld.task_image("objects", "train", label, 0)
        (thing,) = drawn[-1].things
        assert name == f"{thing.colour} {thing.shape}" and thing.colour in miniworld._colours_on(drawn[-1].background)
    for label, name in enumerate(miniworld.MINI_TASKS["relations"].classnames):
        for index in range(5):
            miniworld.task_image("relations", "train", label, index)
            left, right = drawn[-1].things
            assert name == f"{left.shape} to the left of a {right.shape}"
            assert left.x + left.radius < right.x - right.radius  # apart, and in that order
    for label, land in enumerate(miniworld.LANDS):
        miniworld.task_image("places", "train", label, 0)
        assert drawn[-1].land == land and 1 <= len(drawn[-1].things) <= 2


def test_task_files_are_deterministic(mini_root, tmp_path):
    first = load_dataset("badges", mini_root)
    second = load_dataset("badges", tmp_path)
    assert first.classnames == second.classnames and len(first.train) == len(second.train)
    for a, b in zip(first.train + first.test, second.train + second.test):
        assert (a.label, a.classname) == (b.label, b.classname)
        assert hashlib.sha256(open(a.path, "rb").read()).digest() == hashlib.sha256(open(b.path, "rb").read()).digest()


def test_each_badge_is_a_ring_around_a_circle_in_the_colours_its_class_names(monkeypatch):
    drawn = []
    monkeypatch.setattr(miniworld, "render", lambda scene, rng: drawn.append(scene))
    names = miniworld.MINI_TASKS["badges"].classnames
    for label, name in enumerate(names):
        miniworld.task_image("badges", "test", label, 0)
        ring, centre = drawn[-1].things
        assert name == f"{ring.colour} ring and {centre.colour} circle" and ring.colour != centre.colour
        assert (ring.shape, centre.shape) == ("ring", "circle") and (ring.x, ring.y) == (centre.x, centre.y)
        assert centre.radius <= 0.44 * ring.radius  # inside the ring's hole (its inner edge is at 0.44 radii)
    pairs = [frozenset((t.colour for t in scene.things)) for scene in drawn]
    assert len(set(names)) == 12 and all(pairs.count(p) == 2 for p in pairs)  # a swapped twin per class


def test_the_run_cache_sees_new_pixels_and_new_texts_of_a_task(mini_root):
    data = load_dataset("badges", mini_root)
    assert data.revision == miniworld.WORLD_VERSION
    for change in ({"revision": "0"}, {"template": "{}."}, {"classnames": data.classnames[::-1]}):
        assert dataclasses.replace(data, **change).fingerprint != data.fingerprint, change


@pytest.mark.parametrize("task", sorted(miniworld.MINI_TASKS))
def test_task_splits_are_disjoint_and_complete(task, mini_root):
    data = load_dataset(task, mini_root)
    spec = miniworld.MINI_TASKS[task]
    assert data.classnames == list(spec.classnames) and data.template == spec.template
    contents = {}
    for split in ("train", "val", "test"):
        items = getattr(data, split)
        counts = np.bincount([d.label for d in items], minlength=len(spec.classnames))
        assert (counts == miniworld.SPLIT_SIZES[split]).all()
        contents[split] = {hashlib.sha256(np.asarray(Image.open(d.path)).tobytes()).digest() for d in items}
        assert len(contents[split]) == len(items)  # no image repeats inside a split either
    assert not (contents["train"] & contents["val"] or contents["train"] & contents["test"]
                or contents["val"] & contents["test"])


def test_unknown_task_names_the_known_ones():
    with pytest.raises(ValueError, match="mini-world tasks"):
        load_dataset("shapez")


def test_shipped_checkpoint_is_small_and_matches_its_manifest():
    assert SHIPPED.stat().st_size <= 10 * 2**20
    assert models._sha256(SHIPPED) == MANIFEST["sha256"]


def test_shipped_model_loads_by_name_with_recorded_zero_shot_accuracy(mini_clip, mini_root):
    assert mini_clip.name == "mini-clip" and mini_clip.image_size == miniworld.IMAGE_SIZE
    assert mini_clip.identity == f"mini-clip:mini-world:{MANIFEST['sha256'][:16]}"
    model = mp.PromptedCLIP(mini_clip)
    for task, recorded in MANIFEST["zero_shot_test_accuracy"].items():
        accuracy = evaluate(model, mini_clip, load_dataset(task, mini_root), progress=False)
        assert round(accuracy, 2) == recorded, task


def test_corrupted_shipped_checkpoint_is_rejected(tmp_path, monkeypatch):
    broken = tmp_path / SHIPPED.name
    shutil.copy(SHIPPED, broken)
    shutil.copy(SHIPPED.with_name(SHIPPED.name + ".json"), tmp_path)
    data = bytearray(broken.read_bytes())
    data[len(data) // 2] ^= 0xFF
    broken.write_bytes(bytes(data))
    monkeypatch.setitem(models.SHIPPED_MODELS, "mini-clip", {"mini-world": broken})
    with pytest.raises(ValueError, match="corrupted"):
        mp.load_clip("mini-clip", "mini-world")
    broken.write_bytes(bytes(data[: len(data) // 3]))  # a truncated file given directly
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        mp.load_clip("mini-clip", checkpoint=broken)


def test_unknown_tag_of_a_shipped_model():
    with pytest.raises(ValueError, match="available: \\['mini-world'\\]"):
        mp.load_clip("mini-clip", "laion2b")


def test_sparse_checkpoint_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("MMPROMPTS_CACHE", str(tmp_path))  # where the manifest's zero-shot tasks are written
    monkeypatch.setattr(pretrain, "MINI_TASKS", {"badges": miniworld.MINI_TASKS["badges"]})
    clip = mp.load_clip("mini-clip", init_seed=3)
    ids = torch.tensor([5, 320, 49406, 49407])
    with torch.no_grad():
        clip.model.token_embedding.weight[ids] += 1.0  # the "learned" rows
    manifest = save_sparse_checkpoint(clip.model, ids, tmp_path / "w.pt", {})
    loaded = mp.load_clip("mini-clip", checkpoint=tmp_path / "w.pt").model
    expected_rows = models.untrained_token_rows(*clip.model.token_embedding.weight.shape)
    expected_rows[ids] = clip.model.token_embedding.weight[ids].half().float()
    assert torch.equal(loaded.token_embedding.weight, expected_rows)
    for name, value in clip.model.state_dict().items():
        if name != "token_embedding.weight":
            assert torch.equal(loaded.state_dict()[name], value.half().float()), name
    assert set(manifest["zero_shot_test_accuracy"]) == {"badges"} and manifest["sha256"] == models._sha256(tmp_path / "w.pt")


def test_rescore_records_the_zero_shot_accuracy_of_the_current_tasks_and_keeps_the_weights(tmp_path, monkeypatch,
                                                                                           mini_clip, mini_root):
    monkeypatch.setenv("MMPROMPTS_CACHE", str(tmp_path))
    monkeypatch.setattr(pretrain, "MINI_TASKS", {"badges": miniworld.MINI_TASKS["badges"]})
    weights = tmp_path / SHIPPED.name
    shutil.copy(SHIPPED, weights)
    stale = {**MANIFEST, "world_version": "0", "zero_shot_test_accuracy": {"badges": -1.0, "gone": 50.0}}
    weights.with_name(weights.name + ".json").write_text(json.dumps(stale))
    assert pretrain.main(["--rescore", "--out", str(weights)]) == 0
    manifest = json.loads(weights.with_name(weights.name + ".json").read_text())
    expected = evaluate(mp.PromptedCLIP(mini_clip), mini_clip, load_dataset("badges", mini_root), progress=False)
    assert manifest["zero_shot_test_accuracy"] == {"badges": round(expected, 2)}
    assert manifest["world_version"] == miniworld.WORLD_VERSION
    assert {k: v for k, v in manifest.items() if k not in ("zero_shot_test_accuracy", "world_version")} == \
        {k: v for k, v in MANIFEST.items() if k not in ("zero_shot_test_accuracy", "world_version")}
    assert weights.read_bytes() == SHIPPED.read_bytes()
    with pytest.raises(FileNotFoundError, match="elsewhere.pt.json"):
        pretrain.rescore(tmp_path / "elsewhere.pt")


def test_the_compact_vocabulary_trains_exactly_the_rows_the_full_embedding_would():
    texts = ["a red star.", "two small blue circles on a striped background.", "a dotted texture."]
    learned = []
    for compact in (False, True):
        clip = mp.load_clip("mini-clip", init_seed=1)
        initial = clip.model.token_embedding.weight.clone()
        tokens = clip.tokenizer(texts)
        vocab = _vocabulary_ids(clip.tokenizer)
        if compact:
            full, compact_id = _compact_token_embedding(clip.model, vocab)
            tokens = compact_id[tokens]
        forward = PromptedCLIP(clip)  # freezes the model: unfreeze the embedding after it
        embedding = clip.model.token_embedding
        embedding.requires_grad_(True)
        optimizer = torch.optim.AdamW(embedding.parameters(), lr=0.1, weight_decay=0.0)
        for step in range(3):
            optimizer.zero_grad()
            forward.encode_tokens(tokens)[:, step].sum().backward()
            optimizer.step()
        if compact:
            _restore_token_embedding(clip.model, full, vocab)
        learned.append(clip.model.token_embedding.weight.detach())
    changed = (learned[0] != initial).any(dim=1).nonzero().flatten()
    assert 0 < len(changed) and set(changed.tolist()) <= set(_vocabulary_ids(clip.tokenizer).tolist())
    torch.testing.assert_close(learned[1], learned[0], rtol=0, atol=1e-6)


def test_the_vision_warmup_labels_each_image_with_its_scene_then_the_stream_turns_to_captions():
    clip = mp.load_clip("mini-clip", init_seed=0)
    recipe = pretrain.PretrainRecipe(vision_warmup=2, steps=1, batch_size=8)
    batches = list(pretrain._PretrainStream(recipe, clip.tokenizer, clip.mean, clip.std, first_step=0))
    assert [batch[0] for batch in batches] == ["attributes", "attributes", "captions"]
    mean, std = torch.tensor(clip.mean).view(3, 1, 1), torch.tensor(clip.std).view(3, 1, 1)
    for step, (_, pixels, labels) in enumerate(batches[:2]):
        rng = np.random.default_rng([recipe.seed, step])  # the stream's contract: batch = f(seed, step)
        scenes, images = [], []
        for _ in range(recipe.batch_size):
            scenes.append(miniworld.sample_scene(rng))
            images.append(miniworld.render(scenes[-1], rng))
        torch.testing.assert_close(pixels, (torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2) / 255 - mean) / std)
        named = [tuple(None if i == pretrain.ABSENT else pretrain.ATTRIBUTES[a][i] for a, i in zip(pretrain.ATTRIBUTES, row))
                 for row in labels.tolist()]
        assert named == [(None, None, None, s.land) if s.land else (s.things[0].shape, s.things[0].colour, s.texture, None)
                         for s in scenes]
    _, pixels, tokens, texts = batches[2]
    assert pixels.shape == (8, 3, 48, 48) and torch.equal(tokens, clip.tokenizer(texts))
    with pytest.raises(ValueError, match="vision_warmup=-1"):
        pretrain.PretrainRecipe(vision_warmup=-1)


@pytest.mark.parametrize("vision_warmup", [10, 15])  # interrupted at the stage boundary / inside the warm-up
def test_an_interrupted_pretraining_resumes_to_the_same_weights(vision_warmup, tmp_path, monkeypatch):
    monkeypatch.setattr(pretrain, "CHECKPOINT_EVERY", 10)
    monkeypatch.setattr(pretrain, "_zero_shot_accuracies", lambda weights: {})  # the bytes are what is compared
    recipe = pretrain.PretrainRecipe(vision_warmup=vision_warmup, steps=5, batch_size=4, group_size=4)
    straight = pretrain.pretrain(tmp_path / "a.pt", recipe, work_dir=tmp_path / "a", progress=False)

    schedule = pretrain._lr

    def interrupted(step, recipe):
        if step == 12:
            raise KeyboardInterrupt
        return schedule(step, recipe)

    monkeypatch.setattr(pretrain, "_lr", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pretrain.pretrain(tmp_path / "b.pt", recipe, work_dir=tmp_path / "b", progress=False)
    (resume,) = (tmp_path / "b").glob("*.resume.pt")
    state = torch.load(resume, weights_only=True)
    assert (state["step"], state["stage"]) == (10, "vision")
    fresh = mp.load_clip("mini-clip", init_seed=recipe.seed)
    initial = fresh.model.state_dict()
    rows = models.untrained_token_rows(*initial["token_embedding.weight"].shape)
    initial["token_embedding.weight"] = torch.cat([torch.zeros(1, rows.shape[1]), rows[_vocabulary_ids(fresh.tokenizer)]])
    for name, value in state["model"].items():  # the warm-up trained the image tower alone
        assert torch.equal(value, initial[name]) != name.startswith("visual."), name
    monkeypatch.setattr(pretrain, "_lr", schedule)
    resumed = pretrain.pretrain(tmp_path / "b.pt", recipe, work_dir=tmp_path / "b", progress=False)
    assert resumed["sha256"] == straight["sha256"] and not resume.exists()


def test_a_pretraining_batch_is_whole_groups():
    with pytest.raises(ValueError, match="batch_size=100 is not a multiple of group_size=8"):
        pretrain.PretrainRecipe(batch_size=100, group_size=8)
