"""The page modules (mmprompts.pages): a page reads only the runs it declares, and the book trains their union."""
from __future__ import annotations

import importlib

import pytest

from mmprompts import experiments
from mmprompts.book import book_runs
from mmprompts.data.toy import make_toy_dataset
from mmprompts.experiments import RunSpec
from mmprompts.profiles import from_parameters

DATASETS = ["eurosat", "dtd", "caltech101"]  # own templates; App. E keeps only caltech101 (page 3's left-out path)
# The page modules with a `measure`, by name: importing mmprompts.pages imports the figures, whose matplotlib
# settings would change tests collected after this file (test_book's figure sizes).
MEASURED = ["zero_shot", "attention", "alignment", "text_prompts", "vision_prompts", "bias", "sensitivity"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Settings of the paper's data path, tiny: toy CoOp folders, the mini model, one seed, two epochs, 2 shots."""
    root = tmp_path_factory.mktemp("pages")
    for name in DATASETS:
        make_toy_dataset(root / "data", name, per_class=(4, 1, 2), size=48)
    settings = from_parameters({"profile": "paper", "data_root": str(root / "data"), "datasets": DATASETS,
                                "model": "mini-clip", "pretrained": "mini-world", "device": "cpu",
                                "cache": str(root / "cache"), "seeds": [1], "epochs": 2, "shots": 2, "batch_size": 4,
                                "depths": [1, 4], "prompt_counts": [1, 4], "analysis_images": 4,
                                "intervention_images": 4, "processes": 1})
    return settings, settings.load_model()


@pytest.mark.parametrize("name", MEASURED)
def test_a_page_reads_only_the_runs_it_declares(tiny, name, monkeypatch):
    settings, clip = tiny
    page = importlib.import_module(f"mmprompts.pages.{name}")
    asked = []  # every run the page asks the trainer for, trained or read from the cache
    train_runs, zero_shot_run = experiments.train_runs, experiments.zero_shot_run

    def recording_train_runs(clip, requests, **options):
        asked.extend(RunSpec(data.name, method, seed) for data, method, seed in requests)
        return train_runs(clip, requests, **options)

    def recording_zero_shot_run(clip, data, **options):
        asked.append(RunSpec(data.name))
        return zero_shot_run(clip, data, **options)

    monkeypatch.setattr(experiments, "train_runs", recording_train_runs)
    monkeypatch.setattr(experiments, "zero_shot_run", recording_zero_shot_run)
    page.verdicts(page.measure(settings, clip))
    declared = page.runs(settings, clip)
    assert asked, "the recorder saw no run: it no longer sits where the pages' runs pass"
    assert set(asked) <= set(declared), f"read but not declared: {sorted(set(asked) - set(declared), key=repr)}"
    assert set(declared) <= set(book_runs(settings, clip))


def test_book_runs_are_each_pages_runs_once(tiny):
    from mmprompts import pages

    settings, clip = tiny
    assert MEASURED == [page.__name__.rsplit(".", 1)[1] for page in pages.PAGES if hasattr(page, "measure")]
    listed = book_runs(settings, clip)
    assert len(listed) == len(set(listed))
    assert set(listed) == {spec for page in pages.PAGES for spec in page.runs(settings, clip)}
