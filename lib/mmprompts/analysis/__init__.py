"""The paper's analyses. Each takes a model and inputs, runs the one forward with a Trace,
and returns tensors; plotting lives elsewhere."""
from .attention import (TEXT_GROUPS, VISION_GROUPS, attention_distance, attention_entropy, attention_scope,
                        attention_shift, group_attention, scope_change, token_group_attention, without_prompts)
from .decomposition import AttentionDecomposition, decompose_attention
from .relevancy import Relevancy, accumulate_relevancy, patch_relevancy_shift, relevancy_maps, relevancy_statistics
from .similarity import cls_attention_maps, map_correlation, normalised_similarity, patch_heatmaps, prompt_patch_similarity, rotate_images
from .tokens import text_token_groups, vision_token_groups

__all__ = [
    "TEXT_GROUPS", "VISION_GROUPS", "token_group_attention",
    "AttentionDecomposition", "Relevancy", "accumulate_relevancy", "attention_distance", "attention_entropy",
    "attention_scope", "attention_shift", "cls_attention_maps", "normalised_similarity", "scope_change", "map_correlation", "patch_heatmaps", "patch_relevancy_shift", "decompose_attention", "group_attention", "prompt_patch_similarity",
    "relevancy_maps", "relevancy_statistics", "rotate_images", "text_token_groups", "vision_token_groups", "without_prompts",
]
