"""The paper's 11 datasets in the CoOp folder layout (one data root, one folder per dataset).

Layouts, split files and templates follow CoOp's DATASETS.md and its dataset classes. Three
kinds of layout exist:
  * a `split_zhou_*.json` with train/val/test lists of [relative path, label, class name];
  * FGVCAircraft's `variants.txt` + `images_variant_{train,val,test}.txt`;
  * ImageNet's `classnames.txt` + `images/{train,val}/<wnid>/` (val is the test set).
Class names are read as these files hold them, as CoOp reads them: its split files were written
with the cleaned names ("Annual Crop Land" for the folder AnnualCrop, "2012 Tesla Model S Sedan").
Every layout refuses a class without train or test images and a class list naming an unused class.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable, Sequence

import torch
from PIL import Image


__all__ = ["DATASETS", "Datum", "DatasetSplits", "ImageDataset", "Layout", "data_root", "load_coop_dataset",
           "read_json_layout"]

COOP_INSTRUCTIONS = "https://github.com/KaiyangZhou/CoOp/blob/main/DATASETS.md"


@dataclass(frozen=True)
class Datum:
    path: str  # absolute image path
    label: int
    classname: str


@dataclass
class DatasetSplits:
    name: str
    classnames: list[str]  # indexed by label
    template: str  # CoOp's zero-shot template, "{}" is the class name
    train: list[Datum]
    val: list[Datum]
    test: list[Datum]
    folder: Path  # where the few-shot cache lives
    sample_val: bool = True  # ImageNet's val is its test set: CoOp does not subsample it
    revision: str = ""  # version of the generator that drew the images (mini world): new pixels, same paths

    @cached_property
    def fingerprint(self) -> str:
        """What decides a result on this data: changes whenever the data does.

        A hash of every split's (path relative to the folder, label), the texts the model reads, and
        the images themselves: for generated data (the mini world) its `revision`, which names its
        pixels; for a dataset folder the size and modification time (ns) of every image. Not content
        hashes: hashing ImageNet's 140 GB on each new data root would take long, a stat takes seconds,
        and a copy that does not keep modification times (`cp` without `-p`) only costs a retraining,
        never a wrong result. Cached per object: the splits of a loaded dataset do not change.
        """
        digest = hashlib.sha256(json.dumps([self.classnames, self.template, self.revision]).encode())
        root = str(self.folder)
        for split in (self.train, self.val, self.test):
            for d in split:
                digest.update(f"{os.path.relpath(d.path, root)}\t{d.label}\n".encode())
                if not self.revision:
                    digest.update(_file_stamp(d).encode())
            digest.update(b"--\n")
        return digest.hexdigest()[:16]


def _file_stamp(item: Datum) -> str:
    try:
        stat = os.stat(item.path)
    except OSError as err:
        raise FileNotFoundError(f"image {item.path!r} (label {item.label}, {item.classname!r}) listed in the "
                                f"split cannot be read: {err.strerror}") from err
    return f"{stat.st_size}:{stat.st_mtime_ns}\n"


@dataclass(frozen=True)
class Layout:
    """Where a dataset's files are and how its class names read (one entry of DATASETS; the mini world's tasks too)."""

    folder: str
    template: str
    image_dir: str
    split_file: str = ""  # JSON split; empty for the text-file layouts
    paths_from_dataset_dir: bool = False  # StanfordCars' JSON paths start at the dataset folder
    kind: str = "json"


DATASETS: dict[str, Layout] = {
    "imagenet": Layout("imagenet", "a photo of a {}.", "images", kind="imagenet"),
    "caltech101": Layout("caltech-101", "a photo of a {}.", "101_ObjectCategories", "split_zhou_Caltech101.json"),
    "oxford_pets": Layout("oxford_pets", "a photo of a {}, a type of pet.", "images", "split_zhou_OxfordPets.json"),
    "stanford_cars": Layout("stanford_cars", "a photo of a {}.", "", "split_zhou_StanfordCars.json",
                           paths_from_dataset_dir=True),
    "oxford_flowers": Layout("oxford_flowers", "a photo of a {}, a type of flower.", "jpg",
                            "split_zhou_OxfordFlowers.json"),
    "food101": Layout("food-101", "a photo of {}, a type of food.", "images", "split_zhou_Food101.json"),
    "fgvc_aircraft": Layout("fgvc_aircraft", "a photo of a {}, a type of aircraft.", "images", kind="fgvc"),
    "sun397": Layout("sun397", "a photo of a {}.", "SUN397", "split_zhou_SUN397.json"),
    "dtd": Layout("dtd", "{} texture.", "images", "split_zhou_DescribableTextures.json"),
    "eurosat": Layout("eurosat", "a centered satellite photo of {}.", "2750", "split_zhou_EuroSAT.json"),
    "ucf101": Layout("ucf101", "a photo of a person doing {}.", "UCF-101-midframes", "split_zhou_UCF101.json"),
}


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: the argument, else $MMPROMPTS_DATA."""
    root = root or os.environ.get("MMPROMPTS_DATA")
    if not root:
        raise ValueError("no data root: pass data_root=... (CLI --data-root) or set MMPROMPTS_DATA")
    return Path(root).expanduser()


def load_coop_dataset(name: str, root: str | os.PathLike | None = None) -> DatasetSplits:
    """Read one of the 11 datasets from `<root>/<folder>` in the CoOp layout (`data.load_dataset` also knows the
    mini-world tasks)."""
    spec = DATASETS[name]
    folder = data_root(root) / spec.folder
    _require(folder, name, "dataset folder")
    reader = {"json": read_json_layout, "fgvc": _read_fgvc, "imagenet": _read_imagenet}[spec.kind]
    return reader(name, spec, folder)


def _require(path: Path, dataset: str, what: str) -> None:
    if not path.exists():
        raise FileNotFoundError(
            f"{dataset}: {what} {str(path)!r} not found. Prepare the dataset in the CoOp layout "
            f"as described in CoOp's dataset instructions ({COOP_INSTRUCTIONS}, section '{dataset}')."
        )


def read_json_layout(name: str, spec: Layout, folder: Path) -> DatasetSplits:
    split_file = folder / spec.split_file
    _require(split_file, name, "split file")
    image_dir = folder if spec.paths_from_dataset_dir else folder / spec.image_dir
    _require(image_dir, name, "image folder")
    try:
        raw = json.loads(split_file.read_text())
        splits = {key: raw[key] for key in ("train", "val", "test")}
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{name}: {str(split_file)!r} is not a CoOp split file with train/val/test lists ({err})") from err
    classnames = _check_split_rows(name, split_file, splits)
    parts = {key: [Datum(str(image_dir / rel), label, cname) for rel, label, cname in items] for key, items in splits.items()}
    return DatasetSplits(name, classnames, spec.template, parts["train"], parts["val"], parts["test"], folder)


def _check_split_rows(name: str, split_file: Path, splits: dict[str, list]) -> list[str]:
    """The class names by label, after refusing a split file that disagrees with itself (naming the
    first offending row).

    Each row is [relative path, integer label, class name]; a label has one name and a name one
    label (a misspelt row would otherwise make an extra, empty class); no image is listed twice
    (within a split or across splits: a test image in train leaks); labels are 0..C-1 and every
    label has train and test images.
    """
    label_name: dict[int, str] = {}
    name_label: dict[str, int] = {}
    listed: dict[str, str] = {}
    for split, rows in splits.items():
        if not isinstance(rows, list):
            raise ValueError(f"{name}: {str(split_file)!r}: {split!r} is not a list of rows")
        for index, row in enumerate(rows):
            where = f"{name}: {str(split_file)!r}, {split} row {index} {row!r}"
            if not (isinstance(row, list) and len(row) == 3 and isinstance(row[0], str) and isinstance(row[2], str)
                    and isinstance(row[1], int) and not isinstance(row[1], bool) and row[1] >= 0):
                raise ValueError(f"{where}: a row must be [relative image path, label >= 0, class name]")
            path, label, cname = row
            if label_name.setdefault(label, cname) != cname:
                raise ValueError(f"{where}: label {label} is named {label_name[label]!r} in an earlier row; "
                                 "one class name per label")
            if name_label.setdefault(cname, label) != label:
                raise ValueError(f"{where}: class name {cname!r} has label {name_label[cname]} in an earlier row; "
                                 "one label per class name")
            if path in listed:
                raise ValueError(f"{where}: the image is listed twice (also in {listed[path]})")
            listed[path] = split
    missing = sorted(set(range(max(label_name, default=-1) + 1)) - set(label_name))
    if missing or not label_name:
        raise ValueError(f"{name}: {str(split_file)!r}: labels must be 0..C-1; missing {missing or 'all'}")
    classnames = [label_name[label] for label in range(len(label_name))]
    _check_classes_used(name, classnames, {split: [row[1] for row in splits[split]] for split in ("train", "test")},
                        lambda split: f"{str(split_file)!r}: the {split} split")
    return classnames


def _check_classes_used(name: str, classnames: list[str], labels: dict[str, list[int]],
                        source: Callable[[str], str]) -> None:
    """Every class has train and test images: a class without is refused by its name and the file or
    folder that misses it (`source(split)`), in every layout."""
    for split in ("train", "test"):
        absent = sorted(set(range(len(classnames))) - set(labels[split]))
        if absent:
            raise ValueError(f"{name}: {source(split)} has no image of class {classnames[absent[0]]!r} "
                             f"(label {absent[0]}); add its images or remove the class")


def _read_fgvc(name: str, spec: Layout, folder: Path) -> DatasetSplits:
    variants = folder / "variants.txt"
    _require(variants, name, "class list")
    classnames = [line.strip() for line in variants.read_text().splitlines() if line.strip()]
    label_of = {cname: i for i, cname in enumerate(classnames)}
    if len(label_of) < len(classnames):
        twice = next(c for i, c in enumerate(classnames) if label_of[c] != i)
        raise ValueError(f"{name}: {str(variants)!r} lists variant {twice!r} twice")
    image_dir = folder / spec.image_dir
    _require(image_dir, name, "image folder")
    parts, seen = {}, {}
    for key in ("train", "val", "test"):
        listing = folder / f"images_variant_{key}.txt"
        _require(listing, name, "split file")
        items = []
        for number, line in enumerate(listing.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            if " " not in line.strip():
                raise ValueError(f"{name}: {str(listing)!r} line {number} {line!r}: expected '<image id> <variant>'")
            image_id, cname = line.strip().split(" ", 1)
            if image_id in seen:
                raise ValueError(f"{name}: {str(listing)!r} line {number}: image {image_id!r} is listed twice "
                                 f"(also in {seen[image_id]})")
            seen[image_id] = listing.name
            if cname not in label_of:
                raise ValueError(f"{name}: {str(listing)!r} names variant {cname!r}, which is not in {str(variants)!r}")
            items.append(Datum(str(image_dir / f"{image_id}.jpg"), label_of[cname], cname))
        parts[key] = items
    unused = [c for c in classnames if all(d.classname != c for items in parts.values() for d in items)]
    if unused:
        raise ValueError(f"{name}: {str(variants)!r} lists variant {unused[0]!r}, which no images_variant_*.txt "
                         "uses; remove its line or add its images")
    _check_classes_used(name, classnames, {key: [d.label for d in parts[key]] for key in ("train", "test")},
                        lambda split: repr(str(folder / f"images_variant_{split}.txt")))
    return DatasetSplits(name, classnames, spec.template, parts["train"], parts["val"], parts["test"], folder)


def _read_imagenet(name: str, spec: Layout, folder: Path) -> DatasetSplits:
    names_file = folder / "classnames.txt"
    _require(names_file, name, "class list")
    names = {}
    for number, line in enumerate(names_file.read_text().splitlines(), start=1):
        if line.strip():
            if " " not in line.strip():
                raise ValueError(f"{name}: {str(names_file)!r} line {number} {line!r}: expected '<wnid> <class name>'")
            wnid, cname = line.strip().split(" ", 1)
            if names.setdefault(wnid, cname) != cname:
                raise ValueError(f"{name}: {str(names_file)!r} line {number}: {wnid} is named {names[wnid]!r} "
                                 "in an earlier line; one class name per folder")
    folders = {}
    for key, sub in (("train", "train"), ("test", "val")):
        image_dir = folder / spec.image_dir / sub
        _require(image_dir, name, "image folder")
        folders[key] = {d.name: d for d in image_dir.iterdir() if d.is_dir() and not d.name.startswith(".")}
        unknown = sorted(set(folders[key]) - set(names))
        if unknown:
            raise ValueError(f"{name}: folder {unknown[0]!r} in {str(image_dir)!r} has no line in {str(names_file)!r}")
    # CoOp labels the sorted class folders of each split: the same labels only when both hold every class
    wnids = sorted(set(folders["train"]) | set(folders["test"]))
    unused = [w for w in names if w not in wnids]
    if unused:
        raise ValueError(f"{name}: {str(names_file)!r} names class {unused[0]} ({names[unused[0]]!r}), which has no "
                         "folder in images/train or images/val; remove its line or add its images")
    parts = {key: [Datum(str(f), label, names[wnid]) for label, wnid in enumerate(wnids) if wnid in folders[key]
                   for f in sorted(folders[key][wnid].iterdir()) if not f.name.startswith(".")]
             for key in ("train", "test")}
    classnames = [names[w] for w in wnids]
    _check_classes_used(name, classnames, {key: [d.label for d in parts[key]] for key in ("train", "test")},
                        lambda split: repr(str(folder / spec.image_dir / ("val" if split == "test" else "train"))))
    return DatasetSplits(name, classnames, spec.template, parts["train"], parts["test"], parts["test"], folder,
                         sample_val=False)


class ImageDataset(torch.utils.data.Dataset):
    """Images of a list of Datum, transformed; an unreadable file is an error naming it."""

    def __init__(self, items: Sequence[Datum], transform: Callable):
        self.items, self.transform = list(items), transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        item = self.items[index]
        try:
            with Image.open(item.path) as image:
                image = image.convert("RGB")
        except (OSError, ValueError) as err:
            raise OSError(f"cannot read image {item.path!r} (label {item.label}, {item.classname!r}): {err}") from err
        return self.transform(image), item.label
