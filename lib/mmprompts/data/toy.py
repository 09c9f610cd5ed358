"""Small synthetic datasets written in the CoOp folder layout, for trying and testing the
real-data code path without downloading anything (tests and `python -m mmprompts toy-data`).

Each class is a coloured disc at a random place on a noisy background, so a model can
learn the classes; class names are the real datasets' raw names, so the CoOp class-name
cleanups apply.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from .coop import DATASETS

__all__ = ["TOY_CLASSES", "make_toy_dataset"]

TOY_CLASSES = {
    "eurosat": ["AnnualCrop", "Forest", "Highway", "SeaLake"],
    "caltech101": ["airplanes", "Faces", "Leopards", "anchor", "BACKGROUND_Google"],
    "oxford_pets": ["Abyssinian", "Bengal", "beagle"],
    "stanford_cars": ["Tesla Model S 2012", "Audi TT RS 2011", "smart fortwo 2012"],
    "sun397": ["abbey", "apartment_building/outdoor", "bedroom"],
    "ucf101": ["ApplyEyeMakeup", "Basketball", "Rowing"],
    "dtd": ["banded", "dotted", "striped"],
    "food101": ["apple_pie", "sushi", "waffles"],
    "oxford_flowers": ["pink primrose", "sunflower", "rose"],
    "fgvc_aircraft": ["707-320", "A320", "Cessna 172"],
    "imagenet": ["tench", "goldfish", "great white shark"],
}


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
    refused, or deleted first with `force=True`."""
    if name not in TOY_CLASSES:
        raise ValueError(f"no toy version of dataset {name!r}; choose one of {sorted(TOY_CLASSES)}")
    train, val, test = per_class
    if train < 1 or val < 0 or test < 1:
        raise ValueError(f"per_class={tuple(per_class)}: need at least 1 train and 1 test image per class, val >= 0")
    spec = DATASETS[name]
    folder = Path(root).expanduser() / spec.folder
    if folder.exists():
        if not force:
            raise FileExistsError(f"{str(folder)!r} exists already; toy data is only written into a new folder: "
                                  "choose another data root, or pass --force (force=True) to delete and replace it")
        shutil.rmtree(folder)
    classes = TOY_CLASSES[name]
    rng = np.random.default_rng(seed)
    image_dir = folder / spec.image_dir
    splits: dict[str, list] = {"train": [], "val": [], "test": []}
    for label, cname in enumerate(classes):
        for split, count in zip(splits, per_class):
            for i in range(count):
                stem = f"{cname.replace('/', '_').replace(' ', '_')}_{split}_{i:03d}"
                if spec.kind == "imagenet":
                    wnid = f"n{label:08d}"
                    path = image_dir / ("val" if split == "test" else "train") / wnid / f"{stem}.JPEG"
                    if split == "val":
                        continue  # ImageNet has no separate val: CoOp tests on images/val
                else:
                    path = image_dir / (f"{stem}.jpg" if spec.kind == "fgvc" else f"{cname}/{stem}.jpg")
                path.parent.mkdir(parents=True, exist_ok=True)
                _image(label, len(classes), rng, size).save(path, quality=95)
                rel = path.relative_to(folder if spec.paths_from_dataset_dir else image_dir)
                splits[split].append([rel.as_posix(), label, cname])
    if spec.kind == "json":
        (folder / spec.split_file).write_text(json.dumps(splits))
    elif spec.kind == "fgvc":
        (folder / "variants.txt").write_text("\n".join(classes) + "\n")
        for split, items in splits.items():
            lines = [f"{Path(rel).stem} {cname}" for rel, _, cname in items]
            (folder / f"images_variant_{split}.txt").write_text("\n".join(lines) + "\n")
    else:
        (folder / "classnames.txt").write_text("".join(f"n{i:08d} {c}\n" for i, c in enumerate(classes)))
    return folder
