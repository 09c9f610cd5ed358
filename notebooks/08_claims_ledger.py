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
# Every statement of the paper that this book tests, with where the paper makes it, what this
# build measured, and the verdict — collected from the verdicts each page recorded when the book
# was built (`mmprompts.claims`: each rule, its tolerance and why are stated there and tested in
# `tests/test_claims.py`). "Supports" and "contradicts" need the effect to be more than two
# standard errors (seeds, images or heads) beyond the rule's boundary; "inconclusive" means this
# build's numbers cannot tell. A verdict is about this build: its model, its data and its seeds.
# In the default `mini` profile that is a small CLIP trained on a procedural world, which stands
# for CLIP and the paper's datasets but is not them (see the introduction).

# %%
from collections import Counter

from IPython.display import HTML, display

from mmprompts.claims import ledger_rows, load_verdicts, verdicts_folder
from mmprompts.tables import html_table

try:
    verdicts = load_verdicts()
except FileNotFoundError:
    verdicts = []
if not verdicts:
    display(HTML(f"<p>No verdicts recorded yet: build the book (<code>python -m mmprompts book</code>); "
                 f"pages record them in {verdicts_folder()}.</p>"))
if verdicts:
    claims = [v for v in verdicts if v.claim.kind == "claim"]
    counts = Counter(v.outcome for v in claims)
    display(HTML(f"<p><b>{len(claims)} claims of the paper</b> tested in this build: "
                 f"{counts['supports']} supported, {counts['contradicts']} contradicted, "
                 f"{counts['inconclusive']} inconclusive.</p>"))
    display(HTML(html_table(ledger_rows(verdicts, "claim"), "Table 8.1 — The paper's claims, decided by this build")))

# %%
if verdicts:
    display(HTML(html_table(ledger_rows(verdicts, "check"),
                            "Table 8.2 — Checks of this implementation (true by algebra; they guard the code)")))
