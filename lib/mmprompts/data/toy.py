"""Small synthetic datasets written in the CoOp folder layout, for trying and testing the
real-data code path without downloading anything (tests and `python -m mmprompts toy-data`).

Each class is a coloured disc at a random place on a noisy background, so a model can learn the
classes. Everything else is written as CoOp's real files are: a few of each dataset's real
classes, in the real label order, under the real folder names, with image files named like the
real ones, and the class names as CoOp's split files and text files hold them (the folder
`AnnualCrop` is the class "Annual Crop Land"; see CoOp's `datasets/*.py`, which wrote them).
Only the files the loaders read are written (no annotation .mat files, no images outside the splits).
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from .coop import DATASETS

__all__ = ["TOY_CLASSES", "make_toy_dataset"]


def _sun_letters(number: int) -> str:
    """SUN397's file names are "sun_" and 16 lower-case letters."""
    return "".join(chr(97 + number // 26**k % 26) for k in reversed(range(16)))


@dataclass(frozen=True)
class _Toy:
    classes: tuple[tuple[str, str], ...]  # (the real folder or raw name, the class name CoOp's files hold)
    # (raw name, class name, image number from 1, split) -> the path the split file lists
    image: Callable[[str, str, int, str], str]


_TOYS: dict[str, _Toy] = {
    "eurosat": _Toy((("AnnualCrop", "Annual Crop Land"), ("Forest", "Forest"), ("Highway", "Highway or Road"),
                     ("SeaLake", "Sea or Lake")), lambda raw, c, n, s: f"{raw}/{raw}_{n}.jpg"),
    # the folders sorted as CoOp sorts them (capitals first); BACKGROUND_Google and Faces_easy are in no split
    "caltech101": _Toy((("Faces", "face"), ("Leopards", "leopard"), ("airplanes", "airplane"), ("anchor", "anchor")),
                       lambda raw, c, n, s: f"{raw}/image_{n:04d}.jpg"),
    "oxford_pets": _Toy((("Abyssinian", "abyssinian"), ("american_bulldog", "american_bulldog"), ("beagle", "beagle")),
                        lambda raw, c, n, s: f"{raw}_{n}.jpg"),
    "stanford_cars": _Toy((("AM General Hummer SUV 2000", "2000 AM General Hummer SUV"),
                           ("Acura RL Sedan 2012", "2012 Acura RL Sedan"),
                           ("Tesla Model S Sedan 2012", "2012 Tesla Model S Sedan")),
                          lambda raw, c, n, s: f"cars_{'test' if s == 'test' else 'train'}/{n:05d}.jpg"),
    "oxford_flowers": _Toy((("1", "pink primrose"), ("2", "hard-leaved pocket orchid"), ("3", "canterbury bells")),
                           lambda raw, c, n, s: f"image_{n:05d}.jpg"),
    "food101": _Toy((("apple_pie", "apple_pie"), ("baby_back_ribs", "baby_back_ribs"), ("baklava", "baklava")),
                    lambda raw, c, n, s: f"{raw}/{1000000 + n}.jpg"),
    "fgvc_aircraft": _Toy((("707-320", "707-320"), ("A320", "A320"), ("Cessna 172", "Cessna 172")),
                          lambda raw, c, n, s: f"{1000000 + n:07d}.jpg"),
    "sun397": _Toy((("a/abbey", "abbey"), ("a/apartment_building/outdoor", "outdoor apartment_building"),
                    ("b/bedroom", "bedroom")), lambda raw, c, n, s: f"{raw}/sun_{_sun_letters(n)}.jpg"),
    "dtd": _Toy((("banded", "banded"), ("dotted", "dotted"), ("striped", "striped")),
                lambda raw, c, n, s: f"{raw}/{raw}_{n:04d}.jpg"),
    # UCF-101-midframes' folders are the renamed actions; the frames keep the videos' names
    "ucf101": _Toy((("ApplyEyeMakeup", "Apply_Eye_Makeup"), ("Basketball", "Basketball"), ("Rowing", "Rowing")),
                   lambda raw, c, n, s: f"{c}/v_{raw}_g{n // 7 + 1:02d}_c{n % 7 + 1:02d}.jpg"),
    "imagenet": _Toy((("n01440764", "tench"), ("n01443537", "goldfish"), ("n01484850", "great white shark")),
                     lambda raw, c, n, s: f"val/{raw}/ILSVRC2012_val_{n:08d}.JPEG" if s == "test"
                     else f"train/{raw}/{raw}_{n}.JPEG"),
}
TOY_CLASSES = {name: [cname for _, cname in toy.classes] for name, toy in _TOYS.items()}


def _image(label: int, n_classes: int, rng: np.random.Generator, size: int) -> Image.Image:
    yy, xx = np.mgrid[:size, :size]
    cy, cx = rng.uniform(0.3, 0.7, size=2) * size
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 < (size * rng.uniform(0.2, 0.3)) ** 2
    hue = label / n_classes
    colour = 255 * np.array([abs(np.sin(np.pi * (hue + k / 3))) for k in range(3)])
    pixels = rng.normal(110, 30, size=(size, size, 3))
    pixels[disc] = colour + rng.normal(0, 10, size=(int(disc.sum()), 3))
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def make_toy_dataset(root: str | os.PathLike, name: str, per_class: tuple[int, int, int] = (20, 4, 6),
                     seed: int = 0, size: int = 40, force: bool = False) -> Path:
    """Write `<root>/<folder>` for dataset `name` with (train, val, test) images per class.

    An existing dataset folder is never written into (it may be the user's real data): it is
    refused, or deleted first with `force=True`. ImageNet has no val split (CoOp tests on images/val)."""
    if name not in _TOYS:
        raise ValueError(f"no toy version of dataset {name!r}; choose one of {sorted(_TOYS)}")
    train, val, test = per_class
    if train < 1 or val < 0 or test < 1:
        raise ValueError(f"per_class={tuple(per_class)}: need at least 1 train and 1 test image per class, val >= 0")
    spec, toy = DATASETS[name], _TOYS[name]
    folder = Path(root).expanduser() / spec.folder
    if folder.exists():
        if not force:
            raise FileExistsError(f"{str(folder)!r} exists already; toy data is only written into a new folder: "
                                  "choose another data root, or pass --force (force=True) to delete and replace it")
        shutil.rmtree(folder)
    rng = np.random.default_rng(seed)
    listed_from = folder if spec.paths_from_dataset_dir else folder / spec.image_dir
    splits: dict[str, list] = {"train": [], "val": [], "test": []}
    number = 0
    for label, (raw, cname) in enumerate(toy.classes):
        for split, count in zip(splits, per_class):
            if spec.kind == "imagenet" and split == "val":
                continue
            for _ in range(count):
                number += 1
                rel = toy.image(raw, cname, number, split)
                path = listed_from / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                _image(label, len(toy.classes), rng, size).save(path, format="JPEG", quality=95)
                splits[split].append([rel, label, cname])
    if spec.kind == "json":
        (folder / spec.split_file).write_text(json.dumps(splits))
    elif spec.kind == "fgvc":
        (folder / "variants.txt").write_text("".join(f"{cname}\n" for _, cname in toy.classes))
        for split, items in splits.items():
            (folder / f"images_variant_{split}.txt").write_text("".join(f"{Path(rel).stem} {c}\n" for rel, _, c in items))
    else:
        (folder / "classnames.txt").write_text("".join(f"{wnid} {cname}\n" for wnid, cname in toy.classes))
    return folder
