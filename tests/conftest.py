"""Shared fixtures: tiny open_clip configs registered under test-only names."""
from __future__ import annotations

import json

import open_clip
import pytest
import torch

import mmprompts as mp
from tiny_config import TINY_CONFIG


@pytest.fixture(scope="session")
def tiny_name(tmp_path_factory) -> str:
    """A small custom ViT CLIP config that open_clip builds by name."""
    folder = tmp_path_factory.mktemp("configs")
    (folder / "mmprompts-test-tiny.json").write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(folder)
    return "mmprompts-test-tiny"


@pytest.fixture(scope="session")
def tiny_clip(tiny_name) -> mp.LoadedCLIP:
    return mp.load_clip(tiny_name, init_seed=0)


@pytest.fixture(scope="session")
def vitb16() -> mp.LoadedCLIP:
    """Random-init ViT-B/16 (the paper's architecture); identity checks only, it is slow on CPU."""
    return mp.load_clip("ViT-B-16-quickgelu", init_seed=0)


@pytest.fixture
def images(tiny_clip) -> torch.Tensor:
    return torch.randn(3, 3, tiny_clip.image_size, tiny_clip.image_size, generator=torch.Generator().manual_seed(1))
