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
# # 2. How prompts enter attention (Sec. 3.2.1, Appendix B)
#
# **What the paper says.** The MLP acts on each token alone, so a prompt changes an input token's
# update only through self-attention. With prompt keys $p_k$ beside the input keys $x_j$, the
# attention update of token $i$ splits into two parts (eq. 12; Appendix B, eqs. 17–32; the factor
# $Z_{in}/(Z_{in}+Z_p)$ is this book's reading of eq. 32, which writes the two fractions):
#
# $$x_i^{\ell+1} = x_i^\ell + \underbrace{\sum_j a'_{ij} x_j}_{\text{input part}} + \underbrace{\sum_k a'_{ik} p_k}_{\text{prompt part}},\qquad a'_{ij} = a_{ij}\,\frac{Z_{in}}{Z_{in}+Z_p}.$$
#
# Fig. 1's caption reads: *"In the first layer, the attention between tokens undergoes a
# proportional transformation … However, the relative values of attention between tokens are
# changed in the subsequent layers."* From this the paper states three **hypotheses** (Sec. 3.2.1),
# which the later sections test; this page does not decide them:
# 1. prompts work mainly by re-weighting the [cls] token's attention over the input tokens (a better
#    focus on foreground objects);
# 2. prompts work mainly by adding a learned, input-independent bias to the token updates;
# 3. both are indispensable.
#
# **What this page does.** It checks the two identities of the decomposition on trained prompts —
# they hold by algebra, so this is a check of the implementation, not of the paper — and it tests
# the empirical point of Fig. 1 against zero-shot CLIP, block by block.

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
learned = None  # a prompt checkpoint trained elsewhere (MaPLe/PromptSRC IVLP, VPT, MaPLe, CoOp) to analyse instead
device = None
cache = None

# %%
from mmprompts.page import page_header
from mmprompts.profiles import from_parameters

S = from_parameters(globals())  # checks every parameter: a wrong one stops the page here
page_header(S, "02_prompts_in_attention", "Sec. 3.2.1, Fig. 1, App. B")

# %%
from IPython.display import HTML

from mmprompts import PromptedCLIP
from mmprompts.analysis import attention_shift, decompose_attention
from mmprompts.claims import decide_identities, decide_relative_attention, report
from mmprompts.analysis_inputs import analysis_models, balanced_test_images, in_batches
from mmprompts.figures import block_lines
from mmprompts.page import figure
from mmprompts.tables import html_table

clip = S.load_model()
data = S.load_datasets()
zero_shot = PromptedCLIP(clip)

# %% [markdown]
# ## The decomposition, block by block
# For each dataset: the prompted model this book analyses (first seed; also a run of Tables 2–3),
# 16 test images, every block of the image tower. Per block: how far the two identities are from
# holding (float64 recomputation), the share of attention the [cls] query gives to the prompts,
# $1 - Z_{in}/(Z_{in}+Z_p)$, the size of the prompt part relative to the input part, and how far
# the attention among input tokens moved from zero-shot CLIP's on the same images (total
# variation after renormalising over the input tokens: 0 = CLIP's relative attention).

# %%
records = {}
for name, model in analysis_models(S, clip, data, progress=False).items():
    dataset = data[name]
    images, _ = balanced_test_images(clip, dataset, 16)
    parts = [decompose_attention(model, images, layer) for layer in range(clip.depth)]
    records[name] = {
        "error": max(max(p.scaling_error, p.sum_error) for p in parts),
        "cls_share": [100 * (1 - p.ratio[..., 0])[:, :, 0].mean().item() for p in parts],
        "relative_size": [(p.prompt_part.norm(dim=-1) / p.input_part.norm(dim=-1)).mean().item() for p in parts],
        "shift": attention_shift(model, zero_shot, in_batches(images), progress=False).tolist(),
    }
figure(block_lines({"[cls] attention on the prompts (%)": {n: r["cls_share"] for n, r in records.items()},
                    "‖prompt part‖ / ‖input part‖": {n: r["relative_size"] for n, r in records.items()},
                    "relative attention moved from CLIP's (TV)": {n: r["shift"] for n, r in records.items()}}),
       "Per block of the image tower: the [cls] query's attention on the vision prompts, the size of the prompt "
       "part of the update against the input part, and how far the attention among input tokens moved from "
       "zero-shot CLIP's (0 in block 1, where the prompts only rescale it)", "2.1", "Fig. 1")

# %%
HTML(html_table([{"dataset": n, "identity error": f"{r['error']:.1e}", "[cls]→P, block 1 (%)": r["cls_share"][0],
                  "[cls]→P, last (%)": r["cls_share"][-1], "TV, block 1": f"{r['shift'][0]:.1e}", "TV, largest": max(r["shift"])}
                 for n, r in records.items()],
                "Table 2.1 — Per dataset: the largest error of the identities, the [cls] query's attention on the prompts "
                "(P) in the first and last block, the attention moved from CLIP's (TV) in block 1 and at most"))

# %% [markdown]
# ## What this run says

# %%
blocks = range(clip.depth)
mean_shift = [sum(r["shift"][b] for r in records.values()) / len(records) for b in blocks]
report("02_prompts_in_attention", [decide_identities(max(r["error"] for r in records.values())),
                                   decide_relative_attention(mean_shift)])
