"""The tiny open_clip config of the unit tests (a module of its own: tests/browser has a conftest too,
so `from conftest import ...` would be ambiguous)."""

TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 3, "width": 64, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 48, "heads": 4, "layers": 3},
    "quick_gelu": True,
}
