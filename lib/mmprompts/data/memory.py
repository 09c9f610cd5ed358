"""Images decoded once per process and transformed in batches: the same pixels as the PIL transforms, at memory speed.

When an image already has the model's square size, the eval transform (resize the shorter side,
centre crop) leaves it as it is, and so does the train transform's RandomResizedCrop at scale 1
(the mini recipe: no random crops) -- PIL returns a copy for a resize to the same size, and every
crop it can draw at scale 1 of a square image is the whole image. What remains is a horizontal
flip, `ToTensor` and the CLIP normalisation, which a batch of uint8 tensors does with the same
float operations. The crop's random draws are still made, image by image, so that the flips
(and every later draw) are the ones the PIL path makes. Other images (photos of any size, the
CoOp datasets) and other crop scales go through `ImageDataset` and the PIL transforms.

The mini world's few-shot and test images (48 px) are small, so a process keeps every image it
decoded (keyed by path, size and modification time: an image written anew is decoded anew), up
to `MAX_BYTES` in all.
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

from ..models import LoadedCLIP
from .coop import Datum

__all__ = ["MAX_BYTES", "decoded_images", "flip_batch", "normalise"]

MAX_BYTES = 2**30  # decoded images a process keeps (the mini world's seven tasks take 60 MB)

_DECODED: dict[tuple[str, int, int], torch.Tensor] = {}
_held = [0]


def decoded_images(items: Sequence[Datum], size: int) -> torch.Tensor | None:
    """The images of `items` as uint8 [N, 3, size, size], decoded once per process; None unless every image
    is an RGB-convertible size x size square that fits the memory kept for them (then use the PIL path)."""
    images = []
    for item in items:
        stat = os.stat(item.path)
        key = (item.path, stat.st_mtime_ns, stat.st_size)
        image = _DECODED.get(key)
        if image is None:
            with Image.open(item.path) as file:
                if file.size != (size, size) or _held[0] + 3 * size * size > MAX_BYTES:
                    return None
                image = torch.from_numpy(np.array(file.convert("RGB"))).permute(2, 0, 1).contiguous()
            _DECODED[key] = image
            _held[0] += image.numel()
        images.append(image)
    return torch.stack(images) if images else None


def flip_batch(images: torch.Tensor, clip: LoadedCLIP) -> torch.Tensor:
    """`train_transform(clip, 1.0)` on each image of a uint8 batch [B, 3, S, S] (S the model's size), with
    the PIL path's random draws: the crop's parameters (always the whole image), then the flip's coin."""
    crop = T.RandomResizedCrop(clip.image_size, scale=(1.0, 1.0))
    flips = []
    for image in images:
        crop.get_params(image, crop.scale, crop.ratio)
        flips.append(bool(torch.rand(1) < 0.5))  # RandomHorizontalFlip(p=0.5)
    flipped = torch.tensor(flips)[:, None, None, None]
    return normalise(torch.where(flipped, images.flip(-1), images), clip)


def normalise(images: torch.Tensor, clip: LoadedCLIP) -> torch.Tensor:
    """`ToTensor` then `Normalize(clip.mean, clip.std)` on a uint8 batch [B, 3, S, S], as the PIL path computes them."""
    mean = torch.as_tensor(clip.mean, dtype=torch.float32)[:, None, None]
    std = torch.as_tensor(clip.std, dtype=torch.float32)[:, None, None]
    return images.float().div(255).sub_(mean).div_(std)
