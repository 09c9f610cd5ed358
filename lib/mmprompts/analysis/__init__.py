"""The paper's analyses. Each takes a model and inputs, runs the one forward with a Trace,
and returns tensors; plotting lives elsewhere."""
from .attention import (TEXT_GROUPS, VISION_GROUPS, attention_distance, attention_entropy, attention_scope,
                        attention_shift, eos_attention_on_sos, group_attention, scope_change, text_group_attention, token_group_attention,
                        without_prompts)
from .controls import CONTROLS, POSITIVE_CONTROL, initial_model, null_controls
from .decomposition import AttentionDecomposition, decompose_attention
from .interventions import ARMS, BRANCHES, arm_correct, intervened_logits, prompt_term_means
from .relevancy import Relevancy, accumulate_relevancy, relevancy_maps, relevancy_statistics
from .similarity import (cls_attention_maps, map_correlation, normalised_similarity, patch_heatmaps,
                         prompt_patch_similarity, rotate_images, rotation_agreement, similarity_attention)
from .tokens import text_token_groups, text_tokens, vision_token_groups

__all__ = [
    "CONTROLS", "POSITIVE_CONTROL", "initial_model", "null_controls", "ARMS", "BRANCHES", "arm_correct", "intervened_logits", "prompt_term_means",
    "TEXT_GROUPS", "VISION_GROUPS", "eos_attention_on_sos", "token_group_attention",
    "AttentionDecomposition", "Relevancy", "accumulate_relevancy", "attention_distance", "attention_entropy",
    "attention_scope", "attention_shift", "cls_attention_maps", "decompose_attention", "group_attention",
    "map_correlation", "normalised_similarity", "patch_heatmaps", "prompt_patch_similarity",
    "scope_change", "text_group_attention",
    "relevancy_maps", "relevancy_statistics", "rotate_images", "rotation_agreement", "similarity_attention", "text_token_groups", "text_tokens", "vision_token_groups", "without_prompts",
]
