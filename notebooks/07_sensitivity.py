# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 7. Sensitivity to prompt depth and number (Sec. 3.5, Appendix C; Tables 2, 3)
#
# **The paper's claims.**
# - *Depth (Table 2, 4 + 4 prompts in the first d blocks).* Accuracy rises with the number of
#   prompted blocks, with diminishing returns; datasets with many classes (ImageNet) keep
#   gaining, while datasets with few, similar classes (EuroSAT) saturate early.
# - *Number (Table 3, n + n prompts in every block).* More prompts help up to a point; beyond about
#   20 per branch training becomes unstable, especially with little category information (EuroSAT
#   failed at 20 and 50).
#
# The runs come from the cache when page 6 already trained them. For a model with fewer than 12
# blocks, depth d is compared with the paper's column at the same fraction of the depth.

# %% tags=["parameters"]
profile = "mini"  # "mini": the offline mini CLIP world on a CPU; "paper": ViT-B/16 + CoOp data on a GPU
# every other value: None = the value of the profile (see mmprompts.profiles.PROFILES)
model = None
pretrained = None
checkpoint = None
data_root = None
datasets = None
shots = None
seeds = None
n_ctx = None
depths = None
prompt_counts = None
epochs = None
lr = None
batch_size = None
analysis_images = None
device = None
cache = None

# %%
from mmprompts.profiles import from_parameters

S = from_parameters(globals())  # checks every parameter: a wrong one stops the page here
S

# %%
from IPython.display import Markdown, display

from mmprompts.experiments import run_all, table2_specs, table3_specs
from mmprompts.figures import accuracy_curves
from mmprompts.tables import PAPER_LAYERS, table2, table3, to_markdown

clip = S.load_model()
layers = clip.depth
specs = list(dict.fromkeys(table2_specs(S.datasets, S.seeds, S.depths) + table3_specs(S.datasets, S.seeds, layers, S.prompt_counts)))
accuracies = run_all(specs, clip, S)

# %% [markdown]
# ## Table 2: prompt depth

# %%
depth_rows = table2(accuracies, S.datasets, S.depths, layers)
columns = {0: "CLIP", **{d: f"d={d}" + (f" (paper d={round(PAPER_LAYERS * d / layers)})" if layers != PAPER_LAYERS else "")
                         for d in S.depths}}
display(Markdown(to_markdown(depth_rows, columns, "Table 2 — 4+4 prompts in the first d blocks")))
accuracy_curves(depth_rows, [0, *S.depths], "prompted blocks (0 = zero-shot)");

# %% [markdown]
# ## Table 3: number of prompts

# %%
count_rows = table3(accuracies, S.datasets, layers, S.prompt_counts)
columns = {0: "CLIP", **{n: f"{n}+{n}" for n in S.prompt_counts}}
display(Markdown(to_markdown(count_rows, columns, f"Table 3 — n+n prompts in all {layers} blocks")))
accuracy_curves(count_rows, [0, *S.prompt_counts], "prompts per branch (0 = zero-shot)");

# %% [markdown]
# ## What this run says

# %%
lines = []
rising, saturating = [], []
for d, row in depth_rows.items():
    means = [row[k].mean for k in S.depths]
    rising.append(means[-1] > means[0])
    half = len(means) // 2
    saturating.append(len(means) > 2 and (means[half] - means[0]) >= (means[-1] - means[half]))
n = len(depth_rows)
lines.append(f"**Depth.** Prompting all {S.depths[-1]} listed blocks beats prompting {S.depths[0]} on {sum(rising)} of {n} "
             f"datasets, and the first half of the depth range brings at least as much as the second on {sum(saturating)} of {n} "
             f"(diminishing returns). The paper's 'deeper is better, with diminishing returns' is "
             f"{'supported' if sum(rising) > n / 2 and sum(saturating) > n / 2 else 'not supported'} here.")
best_count = {d: max(S.prompt_counts, key=lambda k: row[k].mean) for d, row in count_rows.items()}
unstable = {d: row[S.prompt_counts[-1]].std > 2 * max(row[S.prompt_counts[0]].std, 0.5) for d, row in count_rows.items()}
lines.append(f"**Number.** The best prompt count per dataset: {', '.join(f'{d} {k}+{k}' for d, k in best_count.items())}. "
             f"The largest count ({S.prompt_counts[-1]}+{S.prompt_counts[-1]}) has more than twice the seed spread of the smallest on "
             f"{sum(unstable.values())} of {n} datasets ({', '.join(d for d, u in unstable.items() if u) or 'none'}): "
             + ("a sign of the instability the paper reports for many prompts." if any(unstable.values()) else
                "no sign of the instability the paper reports for many prompts (it appears beyond 20 per branch on ViT-B/16)."))
display(Markdown("\n\n".join(lines)))
