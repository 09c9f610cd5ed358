"""Page 1 (notebooks/01_zero_shot.py): zero-shot CLIP (eq. 9) on every dataset, beside the paper's CLIP column, and
the premise that the datasets far from web photos are the weak ones (Sec. 3.1)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from IPython.display import HTML

from ..analysis_inputs import balanced_test_images
from ..claims import Verdict, decide_zero_shot_weak, rule_numbers
from ..data.coop import DatasetSplits
from ..experiments import RunSpec, run_all
from ..figures import class_probabilities, display_images
from ..models import LoadedCLIP
from ..page import caption
from ..paper import dataset_name
from ..profiles import Settings
from ..prompted import PromptedCLIP
from ..tables import html_table, paper_dataset, show, with_average, zero_shot_table
from ..train import class_text_features
from ..widgets import figure_image, view_selector

__all__ = ["NOTEBOOK", "ZeroShotPage", "accuracy_table", "datasets_table", "measure", "probability_viewer", "rule_table",
           "runs", "verdicts"]

NOTEBOOK = "01_zero_shot"
SHOWN_IMAGES = 6  # test images per dataset in the probability viewer (Fig. 1.1)
TOP_CLASSES = 5


def runs(settings: Settings, clip: LoadedCLIP) -> list[RunSpec]:
    """Zero-shot CLIP on every dataset."""
    return [RunSpec(name) for name in settings.datasets]


@dataclass
class ZeroShotPage:
    """What page 1 measures."""

    settings: Settings
    clip: LoadedCLIP
    data: dict[str, DatasetSplits]
    zero_shot: dict[str, dict]  # tables.zero_shot_table: per dataset, this run's and the paper's accuracy


def measure(settings: Settings, clip: LoadedCLIP) -> ZeroShotPage:
    """Zero-shot accuracy on every dataset's test split, with its own template."""
    data = settings.load_datasets()
    accuracies = run_all(runs(settings, clip), clip, settings, progress=False)
    return ZeroShotPage(settings, clip, data, zero_shot_table(accuracies, settings.datasets))


def verdicts(page: ZeroShotPage) -> list[Verdict]:
    """The premise: the datasets furthest from web photos are the weak ones."""
    names = page.settings.datasets
    return [decide_zero_shot_weak({d: page.zero_shot[d]["zeroshot"].mean for d in names}, {d: paper_dataset(d) for d in names})]


def datasets_table(page: ZeroShotPage) -> HTML:
    """The datasets of this build: what each stands for, its classes, test images and template."""
    return HTML(html_table([{"dataset": dataset_name(name), "stands for": dataset_name(paper_dataset(name)),
                             "classes": len(d.classnames), "test images": len(d.test), "template": d.template}
                            for name, d in page.data.items()],
                           "The datasets of this build"))


def accuracy_table(page: ZeroShotPage):
    """Table 1.1: zero-shot CLIP against the paper's Table 1 CLIP column."""
    return show(with_average(page.zero_shot), {"zeroshot": "zero-shot accuracy (%)"},
                "Table 1.1 — Zero-shot CLIP, this run against the paper's Table 1 CLIP column")


def probability_viewer(page: ZeroShotPage) -> tuple:
    """Fig. 1.1: a viewer of the most probable classes of a few test images per dataset, with its caption."""
    clip = page.clip
    model = PromptedCLIP(clip)
    views = []
    for name, dataset in page.data.items():
        images, labels = balanced_test_images(clip, dataset, SHOWN_IMAGES)
        with torch.no_grad():
            text = class_text_features(model, dataset.classnames, dataset.template)
            probs = model.logits(model.encode_image(images), text).softmax(-1)
        pictures = display_images(images, clip)
        row = []
        for i in range(len(images)):
            top = probs[i].topk(min(TOP_CLASSES, len(dataset.classnames)))
            names = [dataset.classnames[k] for k in top.indices.tolist()]
            row.append(figure_image(class_probabilities(pictures[i], names, top.values.tolist(),
                                                      dataset.classnames[labels[i]])))
        views.append(row)
    return (view_selector(views, [("dataset", list(page.data)), ("test image", [str(i + 1) for i in range(SHOWN_IMAGES)])],
                          slider=[False, True]),
            caption("The five most probable classes of a test image under eq. 9 (the true class in orange)", "1.1", "eq. 9"))


def rule_table(found: list[Verdict]) -> HTML:
    """Table 1.2: what the rule reads."""
    return HTML(html_table(rule_numbers(found), "Table 1.2 — What the rule reads: the mean zero-shot accuracy of the "
                           "datasets far from web photos (shifted) and of the others, and the gap, ± 2 SE from the spread between the "
                           "datasets"))
