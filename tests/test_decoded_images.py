"""Images decoded once and transformed in batches (`data.memory`) give the PIL path's pixels and random draws."""
from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch
from PIL import Image

from mmprompts import train
from mmprompts.data import Datum, ImageDataset, eval_transform, load_dataset
from mmprompts.data.memory import decoded_images
from mmprompts.data.toy import make_toy_dataset
from mmprompts.train import Recipe, epoch_batches

NO_CROPS = Recipe(batch_size=4, min_crop_scale=1.0)  # the mini recipe's augmentation: flips only


@pytest.fixture(scope="module")
def squares(tmp_path_factory, tiny_clip):
    """A dataset of images of the model's own size (as the mini world's are)."""
    root = tmp_path_factory.mktemp("squares")
    make_toy_dataset(root, "eurosat", per_class=(5, 1, 3), size=tiny_clip.image_size)
    return load_dataset("eurosat", root)


def _streams() -> tuple:
    return torch.get_rng_state(), random.getstate(), np.random.get_state()[1].tolist()


def test_train_batches_have_the_pil_pixels_and_draws(tiny_clip, squares):
    decoded = decoded_images(squares.train, tiny_clip.image_size)
    assert decoded is not None and decoded.dtype == torch.uint8 and decoded.shape == (20, 3, 32, 32)
    flips = 0
    for epoch in range(3):
        pil = epoch_batches(squares.train, tiny_clip, NO_CROPS, torch.device("cpu"), 5, epoch)
        pil_batches = []
        for images, labels in pil:
            pil_batches.append((images, labels, _streams()))
        fast = epoch_batches(squares.train, tiny_clip, NO_CROPS, torch.device("cpu"), 5, epoch, decoded=decoded)
        assert len(fast) == len(pil) == 5
        for (images, labels, streams), (fast_images, fast_labels) in zip(pil_batches, fast):
            assert torch.equal(fast_images, images) and torch.equal(fast_labels, labels)
            assert _streams()[0].equal(streams[0]) and _streams()[1:] == streams[1:]  # the same draws, in order
        # some images were flipped (a flip is the only augmentation left): equal pixels are not trivially equal
        plain = ImageDataset(squares.train, eval_transform(tiny_clip))
        flips += sum(not any(torch.equal(image, plain[i][0]) for i in range(len(plain))) for b in pil_batches
                     for image in b[0])
    assert flips > 0


def test_test_batches_have_the_pil_pixels(tiny_clip, squares):
    fast = list(train.eval_batches(squares.test, tiny_clip, 5, torch.device("cpu"), None))
    pil = list(torch.utils.data.DataLoader(ImageDataset(squares.test, eval_transform(tiny_clip)), batch_size=5))
    assert len(fast) == len(pil) == 3
    for (images, labels), (expected, expected_labels) in zip(fast, pil):
        assert torch.equal(images, expected) and torch.equal(labels, expected_labels)


def test_other_sizes_take_the_pil_path_and_rewritten_images_are_decoded_again(tiny_clip, squares, tmp_path):
    root = tmp_path / "small"
    make_toy_dataset(root, "eurosat", per_class=(2, 1, 1), size=16)
    assert decoded_images(load_dataset("eurosat", root).train, tiny_clip.image_size) is None
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(open(squares.test[0].path, "rb").read())
    item = Datum(str(copy), 0, "x")
    before = decoded_images([item], tiny_clip.image_size)
    Image.new("RGB", (32, 32), (10, 200, 30)).save(copy, format="PNG")
    os.utime(item.path, ns=(1, 1))  # a different modification time: another image
    after = decoded_images([item], tiny_clip.image_size)
    assert not torch.equal(before, after) and after[0, :, 0, 0].tolist() == [10, 200, 30]
