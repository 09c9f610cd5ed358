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
# # 8. The claims ledger
#
# Every sentence of the paper that this book tests, one line each, grouped by the paper's sections:
# its verdict in this build, a short name, where the paper says it, and a link to the verdict on its
# page. A line opens onto the paper's words and the sentence's **operationalisations** — the
# statistics this book computes for it, each with its own verdict, its precondition and, where the
# paper published numbers (Tables 1–3), the same rule run on the paper's own numbers (a positive
# control: a rule that contradicts the paper on the paper's numbers would be mis-specified).
#
# How a verdict is reached (the library's claims package states and tests every rule and its
# tolerance): *supports* and *contradicts* need an effect more than two standard errors (seeds, images or
# heads) beyond the rule's boundary, and a claim about what prompts learn needs the learned prompts to
# differ from prompts that learned nothing (null controls); *inconclusive* means this build's numbers
# cannot tell; *not testable* means a precondition fails here (the task did not learn, the paper's
# premise is absent, or the statistic rests on a convention the paper does not state). A sentence
# with several operationalisations is contradicted by one contradiction and supported only when all
# testable ones support it. Every verdict says where it holds: in the default `mini` profile that is
# a small CLIP trained on a procedural world, which stands for CLIP and the paper's datasets but is
# not them (see the introduction).

# %%
from IPython.display import HTML, display

from mmprompts.claims import (ledger_counts, ledger_html, load_verdicts, paper_verdicts, sentence_rows,
                              verdicts_folder)

try:
    verdicts = load_verdicts()
except FileNotFoundError:
    verdicts = []
rows = sentence_rows(verdicts)
if not rows:
    display(HTML(f"<p>No verdicts recorded yet: build the book (<code>python -m mmprompts book</code>); "
                 f"pages record them in {verdicts_folder()}.</p>"))

# %%
if rows:
    central = [r for r in rows if r.name == "Prompts work mainly as a dataset bias"]
    if central:
        display(HTML(f"<p><b>The paper's conclusion</b>, <q>the learned prompts improve the performance mainly through "
                     f"the second way, which acts as the dataset bias</q> (Abstract), tested by switching each part "
                     f"of eq. 12 off (page 2): <b>{central[0].outcome}</b> in this build ({central[0].scope}).</p>"))
    for scope, counts in ledger_counts(rows).items():
        display(HTML(f"<p><b>{sum(counts.values())} sentences of the paper</b> tested in {scope}: "
                     f"{counts['supports']} supported, {counts['contradicts']} contradicted, "
                     f"{counts['inconclusive']} inconclusive, {counts['not testable']} not testable here.</p>"))
    untestable = [r.name for r in rows if r.kind == "claim" and r.outcome == "not testable"]
    if untestable:
        display(HTML("<p>Not testable in this build (a precondition fails; open the line for which): "
                     + "; ".join(untestable) + ".</p>"))

# %%
if rows:
    display(HTML(ledger_html([r for r in rows if r.kind == "claim"], paper_verdicts())))

# %% [markdown]
# ## Checks
# Statements about this implementation and about the rules themselves, not about the paper: they
# guard the code (an identity true by algebra) and the decision rules (a positive control).

# %%
if rows:
    display(HTML(ledger_html([r for r in rows if r.kind == "check"])))
