"""The paper's analyses. Each takes a model and inputs, runs the one forward with a Trace,
and returns tensors; plotting lives elsewhere."""
from .relevancy import Relevancy, accumulate_relevancy, relevancy_maps
from .tokens import text_token_groups, vision_token_groups

__all__ = ["Relevancy", "accumulate_relevancy", "relevancy_maps", "text_token_groups", "vision_token_groups"]
