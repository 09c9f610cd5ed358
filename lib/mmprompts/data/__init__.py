"""Datasets (the CoOp layout), Dassl-identical few-shot sampling and CLIP transforms."""
from .coop import DATASETS, Datum, DatasetSplits, ImageDataset, load_dataset
from .fewshot import fewshot_splits, sample_fewshot
from .transforms import eval_transform, train_transform

__all__ = [
    "DATASETS", "Datum", "DatasetSplits", "ImageDataset", "fewshot_splits", "load_dataset",
    "sample_fewshot", "eval_transform", "train_transform",
]
