"""CoOp layouts as CoOp writes them, Dassl-identical few-shot sampling, bad input."""
from __future__ import annotations

import json
import random
import re
import shutil
from collections import defaultdict

import pytest
import torch
from PIL import Image

from mmprompts.data import DATASETS, ImageDataset, fewshot_splits, load_dataset, eval_transform, train_transform
from mmprompts.data.toy import make_toy_dataset


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("coop")
    for name in ("eurosat", "caltech101", "oxford_pets", "stanford_cars", "sun397", "ucf101", "fgvc_aircraft",
                 "imagenet"):
        make_toy_dataset(root, name, per_class=(6, 3, 2), size=16)
    return root


def test_json_layout_reads_the_names_the_split_file_holds(root):
    data = load_dataset("eurosat", root)
    assert data.classnames == ["Annual Crop Land", "Forest", "Highway or Road", "Sea or Lake"]
    assert data.template == "a centered satellite photo of {}."
    assert (len(data.train), len(data.val), len(data.test)) == (24, 12, 8)
    first = data.train[0]
    assert first.path == str(root / "eurosat" / "2750" / "AnnualCrop" / "AnnualCrop_1.jpg")
    assert first.label == 0 and first.classname == "Annual Crop Land"


# One row of each real file, in the format CoOp's dataset code writes (datasets/*.py: save_split's
# [path relative to the image folder, label, class name]; FGVC's and ImageNet's text lines).
REAL_ROWS = {
    "eurosat": ["AnnualCrop/AnnualCrop_1.jpg", 0, "Annual Crop Land"],
    "caltech101": ["Faces/image_0001.jpg", 0, "face"],
    "oxford_pets": ["Abyssinian_100.jpg", 0, "abyssinian"],
    "stanford_cars": ["cars_train/00001.jpg", 0, "2000 AM General Hummer SUV"],
    "oxford_flowers": ["image_06734.jpg", 0, "pink primrose"],
    "food101": ["apple_pie/1005649.jpg", 0, "apple_pie"],
    "sun397": ["a/abbey/sun_aaalbzqrimafwbiv.jpg", 0, "abbey"],
    "dtd": ["banded/banded_0002.jpg", 0, "banded"],
    "ucf101": ["Apply_Eye_Makeup/v_ApplyEyeMakeup_g08_c01.jpg", 0, "Apply_Eye_Makeup"],
    "fgvc_aircraft": "1025794 707-320",  # images_variant_train.txt
    "imagenet": "n01440764 tench",  # classnames.txt; images/train/n01440764/n01440764_10026.JPEG
}
# Class names of the real files beyond the first row (CoOp's cleaned names), by the toy's label
REAL_NAMES = {
    "caltech101": ["face", "leopard", "airplane", "anchor"],
    "oxford_pets": ["abyssinian", "american_bulldog", "beagle"],
    "stanford_cars": ["2000 AM General Hummer SUV", "2012 Acura RL Sedan", "2012 Tesla Model S Sedan"],
    "sun397": ["abbey", "outdoor apartment_building", "bedroom"],
    "ucf101": ["Apply_Eye_Makeup", "Basketball", "Rowing"],
}


def _shape(text: str) -> str:
    """A path or line with its numbers and SUN397's random letters replaced: the format, not the image."""
    return re.sub(r"\d+", "N", re.sub(r"sun_[a-z]{16}", "sun_L", text))


@pytest.mark.parametrize("name", sorted(REAL_ROWS))
def test_toy_data_is_written_as_coops_real_files(root, tmp_path, name):
    folder = make_toy_dataset(tmp_path, name, per_class=(2, 1, 1), size=8)
    spec = DATASETS[name]
    real = REAL_ROWS[name]
    if spec.kind == "json":
        first = json.loads((folder / spec.split_file).read_text())["train"][0]
        assert [_shape(first[0]), first[1], first[2]] == [_shape(real[0]), real[1], real[2]]
        listed_from = folder if spec.paths_from_dataset_dir else folder / spec.image_dir
        assert (listed_from / first[0]).is_file()
    elif spec.kind == "fgvc":
        first = (folder / "images_variant_train.txt").read_text().splitlines()[0]
        assert _shape(first) == _shape(real) and (folder / "variants.txt").read_text().startswith("707-320\n")
        assert (folder / "images" / f"{first.split()[0]}.jpg").is_file()
    else:
        assert (folder / "classnames.txt").read_text().splitlines()[0] == real
        train = sorted((folder / "images" / "train" / "n01440764").iterdir())[0].name
        test = sorted((folder / "images" / "val" / "n01440764").iterdir())[0].name
        assert (_shape(train), _shape(test)) == ("nN_N.JPEG", "ILSVRCN_val_N.JPEG")
    data = load_dataset(name, tmp_path)
    assert data.classnames[0] == (real[2] if spec.kind == "json" else real.split(" ", 1)[1])
    if name in REAL_NAMES:
        assert data.classnames == REAL_NAMES[name]


def test_stanford_cars_paths_start_at_dataset_folder(root):
    data = load_dataset("stanford_cars", root)
    assert all(d.path.startswith(str(root / "stanford_cars" / "cars_")) for d in data.train)
    assert all(__import__("os").path.exists(d.path) for d in data.train)


def test_fgvc_text_file_layout(root):
    data = load_dataset("fgvc_aircraft", root)
    assert data.classnames == ["707-320", "A320", "Cessna 172"]  # label = line order of variants.txt
    assert {d.classname for d in data.val if d.label == 2} == {"Cessna 172"}
    assert data.train[0].path == str(root / "fgvc_aircraft" / "images" / "1000001.jpg")


def test_imagenet_folder_layout(root):
    data = load_dataset("imagenet", root)
    assert data.classnames == ["tench", "goldfish", "great white shark"]  # sorted wnids
    assert data.val == data.test and not data.sample_val  # val is the test set
    assert len(data.train) == 18 and len(data.test) == 6


@pytest.mark.parametrize("case, message", [
    ("imagenet: empty train folder", r"imagenet: '{root}/imagenet/images/train' has no image of class 'goldfish' \(label 1\)"),
    ("imagenet: no val folder", r"imagenet: '{root}/imagenet/images/val' has no image of class 'goldfish' \(label 1\)"),
    ("imagenet: unused class name", r"imagenet: '{root}/imagenet/classnames.txt' names class n09999999 \('unicorn'\), "
                                    r"which has no folder in images/train or images/val; remove its line"),
    ("fgvc: unused variant", r"fgvc_aircraft: '{root}/fgvc_aircraft/variants.txt' lists variant 'DC-3', which no "
                             r"images_variant_\*.txt uses; remove its line"),
    ("fgvc: no test images", r"fgvc_aircraft: '{root}/fgvc_aircraft/images_variant_test.txt' has no image of class "
                             r"'A320' \(label 1\); add its images or remove the class"),
    ("json: no train images", r"dtd: '{root}/dtd/split_zhou_DescribableTextures.json': the train split has no image of "
                              r"class 'dotted' \(label 1\)"),
])
def test_every_layout_refuses_unused_classes_naming_class_and_file(tmp_path, case, message):
    name = {"imagenet": "imagenet", "fgvc": "fgvc_aircraft", "json": "dtd"}[case.split(":")[0]]
    folder = make_toy_dataset(tmp_path, name, per_class=(2, 1, 1), size=8)
    if case == "imagenet: empty train folder":
        for image in (folder / "images" / "train" / "n01443537").iterdir():
            image.unlink()
    elif case == "imagenet: no val folder":
        shutil.rmtree(folder / "images" / "val" / "n01443537")
    elif case == "imagenet: unused class name":
        with (folder / "classnames.txt").open("a") as f:
            f.write("n09999999 unicorn\n")
    elif case == "fgvc: unused variant":
        with (folder / "variants.txt").open("a") as f:
            f.write("DC-3\n")
    elif case == "fgvc: no test images":
        listing = folder / "images_variant_test.txt"
        listing.write_text("".join(line + "\n" for line in listing.read_text().splitlines() if not line.endswith(" A320")))
    else:
        split_file = folder / "split_zhou_DescribableTextures.json"
        splits = json.loads(split_file.read_text())
        splits["train"] = [row for row in splits["train"] if row[1] != 1]
        split_file.write_text(json.dumps(splits))
    with pytest.raises(ValueError, match=message.format(root=tmp_path)):
        load_dataset(name, tmp_path)


def dassl_generate_fewshot(items, num_shots):
    """Dassl's DatasetBase.generate_fewshot_dataset, written out (global `random`)."""
    tracker = defaultdict(list)
    for item in items:
        tracker[item.label].append(item)
    dataset = []
    for label, group in tracker.items():
        dataset.extend(random.sample(group, num_shots) if len(group) >= num_shots else group)
    return dataset


@pytest.mark.parametrize("shots, seed", [(4, 1), (2, 3), (16, 2), (1, 0)])
def test_fewshot_equals_dassl(root, tmp_path, shots, seed):
    data = load_dataset("eurosat", root)
    random.seed(seed)
    expected_train = dassl_generate_fewshot(data.train, shots)
    expected_val = dassl_generate_fewshot(data.val, min(shots, 4))
    state = random.getstate()
    got = fewshot_splits(data, shots, seed, cache_dir=tmp_path)
    assert got.train == expected_train and got.val == expected_val
    assert random.getstate() == state  # the global generator is left alone
    # the cache returns the same lists, and it is the file named like CoOp's
    cached_file = tmp_path / "eurosat" / f"shot_{shots}-seed_{seed}.json"
    assert cached_file.exists()
    again = fewshot_splits(data, shots, seed, cache_dir=tmp_path)
    assert again.train == got.train and again.val == got.val and again.test == data.test


def test_fewshot_cache_next_to_dataset_and_invalidated_by_new_data(root, tmp_path):
    make_toy_dataset(tmp_path, "eurosat", per_class=(6, 3, 2), size=16)
    data = load_dataset("eurosat", tmp_path)
    first = fewshot_splits(data, 2, 1)
    path = tmp_path / "eurosat" / "split_fewshot" / "shot_2-seed_1.json"
    assert json.loads(path.read_text())["fingerprint"] == data.fingerprint
    make_toy_dataset(tmp_path, "eurosat", per_class=(7, 3, 2), size=16, force=True)  # the data changed
    changed = load_dataset("eurosat", tmp_path)
    second = fewshot_splits(changed, 2, 1)
    assert changed.fingerprint != data.fingerprint
    assert all(d in changed.train for d in second.train) and len(first.train) == len(second.train)


@pytest.mark.parametrize("shots, seed, message", [
    (0, 1, "shots=0: must be a positive integer"), (2.5, 1, "shots=2.5"), (2, -1, "seed=-1: must be an integer in 0..4294967295"), (2, 2**64, "seed=18446744073709551616: must be"),
])
def test_bad_shots_and_seeds(root, shots, seed, message):
    with pytest.raises(ValueError, match=message):
        fewshot_splits(load_dataset("eurosat", root), shots, seed)


def test_missing_folder_names_expected_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"dataset folder '{tmp_path}/oxford_flowers' not found.*DATASETS.md"):
        load_dataset("oxford_flowers", tmp_path)


def test_missing_split_file_names_expected_path(root, tmp_path):
    (tmp_path / "dtd" / "images").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=rf"split file '{tmp_path}/dtd/split_zhou_DescribableTextures.json'"):
        load_dataset("dtd", tmp_path)
    (tmp_path / "fgvc_aircraft").mkdir()
    (tmp_path / "fgvc_aircraft" / "variants.txt").write_text("A320\n")
    (tmp_path / "fgvc_aircraft" / "images").mkdir()
    with pytest.raises(FileNotFoundError, match="images_variant_train.txt"):
        load_dataset("fgvc_aircraft", tmp_path)


def test_unknown_dataset_and_missing_root(monkeypatch):
    with pytest.raises(ValueError, match=r"unknown dataset 'eurosta'; known: \[.*'eurosat'"):
        load_dataset("eurosta", "/tmp")
    monkeypatch.delenv("MMPROMPTS_DATA", raising=False)
    with pytest.raises(ValueError, match="MMPROMPTS_DATA"):
        load_dataset("eurosat")


def test_data_root_from_environment(root, monkeypatch):
    monkeypatch.setenv("MMPROMPTS_DATA", str(root))
    assert load_dataset("eurosat").folder == root / "eurosat"


def test_unreadable_image_names_the_file(root, tmp_path, tiny_clip):
    data = load_dataset("eurosat", root)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    items = [data.train[0], type(data.train[0])(str(broken), 0, "Annual Crop Land")]
    dataset = ImageDataset(items, eval_transform(tiny_clip))
    assert dataset[0][0].shape == (3, 32, 32)
    with pytest.raises(OSError, match=f"cannot read image '{broken}'"):
        dataset[1]


def test_eval_transforms_follow_model_size_and_normalisation(root, tiny_clip):
    image = ImageDataset(load_dataset("eurosat", root).test[:1], eval_transform(tiny_clip))[0][0]
    assert image.shape == (3, tiny_clip.image_size, tiny_clip.image_size)
    colour = (200, 30, 90)  # a uniform image stays uniform through resize and crop: (c / 255 - mean) / std
    uniform = eval_transform(tiny_clip)(Image.new("RGB", (50, 70), colour))
    expected = [(c / 255 - m) / s for c, m, s in zip(colour, tiny_clip.mean, tiny_clip.std)]
    assert uniform.shape == (3, tiny_clip.image_size, tiny_clip.image_size)
    assert torch.allclose(uniform, torch.tensor(expected).view(3, 1, 1).expand_as(uniform), atol=1e-5)
    steps = [type(t).__name__ for t in train_transform(tiny_clip).transforms]
    assert steps == ["RandomResizedCrop", "RandomHorizontalFlip", "ToTensor", "Normalize"]
    crop = train_transform(tiny_clip).transforms[0]
    assert crop.scale == (0.08, 1.0) and crop.interpolation.value == "bicubic"
