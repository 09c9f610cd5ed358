"""The register: every claim of the paper this book tests (its words, where, what is measured, the rule)."""
from __future__ import annotations

from .core import Claim
from .text import INPUT_SCALE, T_EOS, T_SOS

_CLAIMS = [
    Claim("zeroshot.weak-where-images-differ", "their zero-shot performance is unsatisfactory in many specific datasets, "
          "especially those with significant differences from natural language and images", "Sec. 1", "01_zero_shot",
          "zero-shot top-1 accuracy per dataset (the dataset's own template)",
          "datasets whose images are furthest from web photos (satellite tiles, textures: EuroSAT and DTD or their "
          "stand-ins) against the others; significant when the gap exceeds 2 binomial SE of the test accuracies"),
    Claim("formulation.identities", "the input part of a prompted update equals the prompt-free update times "
          f"{INPUT_SCALE}, and input part + prompt part equal the update (eq. 32)",
          "App. B, eqs. 17–32", "02_prompts_in_attention", "largest deviation from both identities, every block, float64",
          "an exact identity: holds within float32 rounding (1e-5); a check of this implementation, true by algebra",
          kind="check"),
    Claim("formulation.relative-attention", "In the first layer, the attention between tokens undergoes a proportional "
          "transformation … However, the relative values of attention between tokens are changed in the subsequent layers",
          "Fig. 1, Sec. 3.2.1", "02_prompts_in_attention",
          "per block, total variation between the prompted model's attention renormalised over input tokens and CLIP's",
          "block 1 within float tolerance (1e-4) and some later block ≥ 0.02 (2% of the attention mass moved); "
          "contradicted when block 1 differs or no later block moves more than 0.005"),
    Claim("relevancy.category-decreases", "the contribution of category tokens does not increase but decreases",
          "Sec. 3.2.2, Fig. 2", "03_alignment_contribution",
          "share of EOS relevance on the class-name tokens, prompted − CLIP, paired over test images",
          "per dataset significant beyond 2 SE over images; most datasets, none the other way"),
    Claim("relevancy.sos-increases", f"the contribution of {T_SOS} and prompt tokens significantly increased, especially "
          f"the {T_SOS} token", "Sec. 3.2.2, Fig. 2", "03_alignment_contribution",
          "share of EOS relevance on SOS, prompted − CLIP, paired over test images",
          "per dataset significant beyond 2 SE over images; most datasets, none the other way"),
    Claim("relevancy.prompts-increase", f"the contribution of {T_SOS} and prompt tokens significantly increased",
          "Sec. 3.2.2, Fig. 2", "03_alignment_contribution",
          "share of EOS relevance on the learned prompts minus CLIP's share on the template words they replace "
          "('a photo of a'), paired over test images",
          "per dataset significant beyond 2 SE over images; most datasets, none the other way"),
    Claim("relevancy.sos-most", f"especially the {T_SOS} token", "Sec. 3.2.2, Fig. 2", "03_alignment_contribution",
          "gain of SOS's share minus gain of the prompts' share, paired over test images",
          "per dataset significant beyond 2 SE over images; most datasets, none the other way"),
    Claim("relevancy.patches-unchanged", "the learned multi-modal prompts do not significantly adjust the relative "
          "relevance to [cls] between inputs", "Sec. 3.2.2, Fig. 3", "03_alignment_contribution",
          "per image, correlation of the prompted model's patch relevance with CLIP's, normalised by the correlation "
          "of CLIP's maps of two different images",
          "kept when the normalised similarity is ≥ 0.5 beyond 2 SE (closer to CLIP's own map than to an unrelated "
          "image's); most datasets, none changed"),
    Claim("relevancy.vision-prompts-prominent", "the contribution of multi-modal prompts to the alignment process is "
          "unusually prominent", "Sec. 3.2.2, Fig. 3", "03_alignment_contribution",
          "relevance on the vision prompts divided by their uniform share n_ctx / (patches + n_ctx), per image",
          "prominent when the ratio exceeds 1 beyond 2 SE: a vision prompt then carries more relevance than an average "
          "patch; most datasets, none below"),
    Claim("relevancy.shallow-and-deep", "in most datasets, the contribution of category tokens decreases after adding the learned prompt, "
          "while the contribution of the learned prompt tokens increases compared to that of template tokens. This "
          "phenomenon can be clearly observed in both shallow and deep prompts", "App. E, Figs. 8–23",
          "03_alignment_contribution",
          "the category and prompt-vs-template shares for shallow prompts (first block only) and deep prompts",
          "both rules above hold for both prompt depths (each: most datasets beyond 2 SE, none the other way)"),
    Claim("text-attention.sos-decreases", f"the attention of {T_EOS} towards {T_SOS} significantly decreases",
          "Sec. 3.3.1, Fig. 4", "04_text_prompts",
          "EOS attention share on SOS, prompted − CLIP, per block and head (mean over the class prompts)",
          "significant beyond 2 SE over the block × head cells (Fig. 4's bars); most datasets, none the other way"),
    Claim("text-attention.prompts-increase", "its attention towards the prompts noticeably increases", "Sec. 3.3.1, Fig. 4",
          "04_text_prompts", "EOS attention on the learned prompts minus CLIP's EOS attention on 'a photo of a'",
          "significant beyond 2 SE over the block × head cells; most datasets, none the other way"),
    Claim("text-attention.category-same", "the attention toward category tokens stays the same", "Sec. 3.3.1, Fig. 4",
          "04_text_prompts", "EOS attention share on the class-name tokens, prompted − CLIP, per block and head",
          "equivalence: |change| + 2 SE within 25% of CLIP's own share (a quarter of the bar is a change a reader "
          "would see in Fig. 4); most datasets, none surely outside"),
    Claim("scope.distance", "there is no significant impact on the model’s attention distance before and after "
          "incorporating prompts for the input patches", "Sec. 3.3.2, Fig. 5", "05_vision_prompts",
          "mean attention distance per block and head (prompt mass at distance 0, ViT convention) for CLIP, W/O prompt, "
          "W prompt", "|difference from CLIP| ≤ 0.5 × CLIP's head-to-head spread on most datasets for both variants; "
          "contradicted at ≥ 1 × on half of them"),
    Claim("scope.distance-renormalised", "there is no significant impact on the model’s attention distance",
          "Sec. 3.3.2, Fig. 5", "05_vision_prompts",
          "the same with each patch query's attention renormalised over patch keys (prompt mass removed)",
          "as for the ViT convention"),
    Claim("scope.entropy", "the prompts do not significantly impact the attention scope", "Sec. 3.3.2, Fig. 5",
          "05_vision_prompts", "attention entropy per block and head ([cls] and patch queries)",
          "as for the distance"),
    Claim("scope.cls-entropy", "we also computed the attention entropy of the [cls] token … the prompts do not "
          "significantly impact the attention scope", "App. D, Fig. 7", "05_vision_prompts",
          "entropy of the [cls] query's attention per block and head", "as for the distance"),
    Claim("cls-attention.unchanged", "the vision prompts do not influence [cls] token’s attention on the input patches",
          "Sec. 3.3.2, Fig. 6 rows 1–2", "05_vision_prompts",
          "per block and image, correlation of the prompted model's [cls] attention over patches with CLIP's, "
          "normalised by the correlation of CLIP's maps of two different images",
          "kept when the normalised similarity is ≥ 0.5 beyond 2 SE over images; most datasets, none changed"),
    Claim("similarity.background", "the learned vision prompts resemble background features in relation to the "
          "attention of the [cls] token, i.e., the features that the [cls] token did not pay attention to",
          "Sec. 3.3.2, Fig. 6 row 3", "05_vision_prompts",
          "per image, correlation between the prompts' similarity map and zero-shot CLIP's [cls] attention map "
          "(mean over blocks)", "negative beyond 2 SE over images (similar where CLIP's [cls] does not look); most "
          "datasets, none positive"),
    Claim("bias.beats-same-size-prompts", "bias tuning outperforms prompt tuning with the same number of parameters",
          "Sec. 1, Sec. 4, Table 1", "06_bias_vs_prompts",
          "average over datasets of BIAS − PROMPT (1 + 1 prompts in every block: the same parameter count)",
          "beyond 2 SE from the seed spread"),
    Claim("bias.largest-gain-on-eurosat", "In datasets with limited category information, i.e., EuroSAT, bias tuning "
          "surpasses prompt tuning by a large margin", "Abstract, Table 1", "06_bias_vs_prompts",
          "BIAS − PROMPT on the EuroSAT stand-in against the other datasets",
          "the stand-in's gain positive beyond 2 SE and the largest; contradicted when negative or another gain is "
          "surely larger"),
    Claim("bias.slight-gap-to-optimal", "the slight performance gap (0.5) between bias tuning and the optimal prompt "
          "tuning settings … still exists", "Sec. 3.4, Table 1", "06_bias_vs_prompts",
          "average OPTIMAL − BIAS, OPTIMAL = 10 + 10 prompts in every block (Table 3's '20 prompts', as in the paper)",
          "gap ≥ 0 and below 2 points beyond 2 SE; contradicted above 2 or below 0 beyond 2 SE"),
    Claim("depth.rises-and-slows", "the performance of the multi-modal prompts increases as the number of layers "
          "increases, but the upward trend also gradually slows down", "Sec. 3.5, App. C.1, Table 2", "07_sensitivity",
          "average accuracy of 4 + 4 prompts in the first d blocks", "rise beyond 2 SE (seeds) and a smaller gain per "
          "block in the second half of the depth range"),
    Claim("depth.many-classes-keep-gaining", "For datasets with many categories, such as ImageNet [8], the performance "
          "continues to increase with more layers … such as EuroSAT [14], the performance saturates after adding a smaller "
          "number", "Sec. 3.5, App. C.1, Table 2", "07_sensitivity",
          "smallest depth within 2 SE of the best, for the dataset with the most classes and the EuroSAT stand-in",
          "the many-class dataset saturates at a larger depth"),
    Claim("depth.best-at-10-11-of-12", "With the addition of the 10 and 11-layer multi-modal prompts, the average "
          "performance reached its highest", "App. C.1, Table 2", "07_sensitivity",
          "average accuracy at depths 10–11 of 12 (the same fractions of this model's depth) against the other depths",
          "best there (or tied); contradicted when another depth is better beyond 2 SE"),
    Claim("depth.exceeds-clip-by-14", "exceeding CLIP by more than 14 points", "App. C.1, Table 2", "07_sensitivity",
          "best average accuracy over depths minus zero-shot CLIP's average", "above 14 points beyond 2 SE"),
    Claim("count.more-prompts-help", "Increasing the number of prompts can improve performance", "Sec. 3.5, App. C.2, "
          "Table 3", "07_sensitivity", "average accuracy of the best larger count against 1 + 1 prompts",
          "beyond 2 SE from the seed spread"),
    Claim("count.unstable-above-10-per-branch", "when the number of multi-modal prompts exceeds 20, the learning process "
          "of the prompts becomes highly unstable and prone to failure, especially for datasets with limited category "
          "information such as EuroSAT [14]", "Sec. 3.5, App. C.2, Table 3", "07_sensitivity",
          "failed runs (diverged, or ending at most 5 points above chance) and seed spread above and at or below "
          "10 prompts per branch (20 multi-modal prompts)",
          "failures only above the threshold; contradicted by no failure above it and a seed spread there at most "
          "1.5 × the spread below"),
]
CLAIMS: dict[str, Claim] = {c.id: c for c in _CLAIMS}
