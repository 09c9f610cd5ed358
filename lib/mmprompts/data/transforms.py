"""CLIP train/test transforms as CoOp uses them, sized by the model."""
from __future__ import annotations

from torchvision import transforms as T

from ..models import LoadedCLIP

_BICUBIC = T.InterpolationMode.BICUBIC


def train_transform(clip: LoadedCLIP, min_crop_scale: float = 0.08) -> T.Compose:
    """RandomResizedCrop(scale min_crop_scale–1, bicubic) → horizontal flip → tensor → CLIP normalisation.

    CoOp's 0.08 suits photos; see `Recipe.min_crop_scale` for the mini world.
    """
    return T.Compose([
        T.RandomResizedCrop(clip.image_size, scale=(min_crop_scale, 1.0), interpolation=_BICUBIC),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        T.Normalize(clip.mean, clip.std),
    ])


def eval_transform(clip: LoadedCLIP) -> T.Compose:
    """Resize the shorter side (bicubic) → centre crop → tensor → CLIP normalisation."""
    return T.Compose([
        T.Resize(clip.image_size, interpolation=_BICUBIC),
        T.CenterCrop(clip.image_size),
        T.ToTensor(),
        T.Normalize(clip.mean, clip.std),
    ])
