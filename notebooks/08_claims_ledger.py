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
# control: a rule that contradicts the paper on the paper's numbers would be mis-specified). How a
# verdict is reached is said under the ledger.

# %%
from IPython.display import display

from mmprompts.pages import ledger

page = ledger.measure()
display(*ledger.headline(page))

# %%
ledger.asserted_table(page)

# %% [markdown]
# ## How a verdict is reached
# The library's claims package states and tests every rule and its tolerance. *Supports* and
# *contradicts* need an effect more than two standard errors (seeds, images or heads) beyond the rule's boundary, and a claim about what prompts learn needs the learned prompts to
# differ from prompts that learned nothing (null controls); a claim that prompts leave a statistic
# alone counts only where a learned change of the model (bias tuning, the positive control) moves
# it; *inconclusive* means this build's numbers
# cannot tell; *not testable* means a precondition fails here (the task did not learn, the paper's
# premise is absent, or the statistic rests on a convention the paper does not state). A sentence
# tested in several parts (e.g. "the prompts do not significantly impact the attention scope", by the
# entropy of all queries and of the [cls] query) is contradicted when a part is and supported only when
# every testable part is; a sentence tested under several readings (the paper's conclusion: its second
# way read as the term the prompts add to each input, or as a term fixed across inputs) takes their
# common verdict, and when they disagree it is inconclusive, "depends on the reading", with each
# reading's verdict listed. Every verdict says where it holds: in the default `mini` profile that is
# a small CLIP trained on a procedural world, which stands for CLIP and the paper's datasets but is
# not them (see the introduction).

# %% [markdown]
# ## Hypotheses the paper proposed and concluded against
# Sec. 3.2.1 proposes three hypotheses and the paper concludes for the second ("mainly through the
# second way"); the other two are not sentences it asserts. The first says the opposite; the third
# ("both indispensable") the paper does not reject in words, and this book reads "mainly" as
# against it. Their verdicts say whether this run agrees with that position (*supports*: the
# hypothesis fails here too), and they are not counted above.

# %%
ledger.rejected_table(page)

# %% [markdown]
# ## Checks
# Statements about this implementation and about the rules themselves, not about the paper: they
# guard the code (eq. 32's identities and Fig. 1's rescaling, true by algebra for any prompts) and the
# decision rules (page 2's rule run on tunings whose way is known or expected).

# %%
ledger.checks_table(page)
