"""What a book page shows around its results: the settings box at the top, captioned figures.

Each is a small object with `_repr_html_`, so a cell's last line displays it (or `display(...)`);
the styles live in book/style/mmprompts.css. In the book:

    page_header(S, "03_alignment_contribution", "Sec. 4.2")        # the settings cell
    figure(fig, "relevance share per token group", "3.1", "Fig. 2")  # a matplotlib figure
    display(view_selector(...)); caption("relevancy maps", "3.2", "Fig. 3")  # a widget, then its caption

Every cell that shows an image or a widget must show its caption from the same cell
(tests/browser checks this in the built pages).
"""
from __future__ import annotations

import html
import shlex
from dataclasses import dataclass
from typing import Sequence

import yaml

from .claims.ledger import STRIP_PENDING, strip_display_id
from .paper import DATASET_CITATIONS, dataset_name
from .profiles import PARAMETERS, Settings, settings
from .tables import paper_dataset
from .widgets import PHONE_COLUMN, FigureImage, figure_image, picture_html

__all__ = ["Captioned", "PAPER", "PageHeader", "caption", "dataset_sources", "figure", "page_header", "rerun_command"]

PAPER = ("Ma, Xie, Wei, Sun, Fan, Bao, Guo and Zheng, <i>Understanding the Multi-modal Prompts of the "
         'Pre-trained Vision-Language Model</i>, arXiv preprint '
         '<a href="https://arxiv.org/abs/2312.11570">arXiv:2312.11570</a>, 2023')
# Parameters that describe the machine, not the experiment: a re-run on another machine leaves them out.
_MACHINE = ("device", "processes", "cache")


def _parameter(s: Settings, name: str):
    value = getattr(s, name) if hasattr(s, name) else getattr(s.recipe, name)  # epochs, lr, batch_size: the recipe's
    return list(value) if isinstance(value, tuple) else value


def rerun_command(s: Settings, notebook: str) -> str:
    """The shell command (from the repository root) that re-executes `notebooks/<notebook>.py` with these settings.

    Only values that differ from the profile's are passed; edit or add `-y` entries to change them."""
    defaults = settings(s.profile, device=s.device)
    changed = {name: _parameter(s, name) for name in PARAMETERS
               if name not in _MACHINE and _parameter(s, name) != _parameter(defaults, name)}
    command = (f"jupytext --to ipynb -o - notebooks/{notebook}.py | papermill - {notebook}.ipynb -k python3 "
               f"--cwd notebooks -p profile {shlex.quote(s.profile)}")
    if changed:
        command += " -y " + shlex.quote(yaml.safe_dump(changed, default_flow_style=True, width=10_000).strip())
    return command


@dataclass(frozen=True)
class PageHeader:
    """The "settings of this build" box: one line, opening onto the settings, the re-run command and the paper."""

    settings: Settings
    notebook: str
    section: str | None = None

    def _repr_html_(self) -> str:
        s, r = self.settings, self.settings.recipe
        weights = f"checkpoint {s.checkpoint}" if s.checkpoint else f"weights {s.pretrained or 'random init'}"
        rows = {
            "profile": s.profile,
            "model": f"{s.model} ({weights})",
            "datasets": ", ".join(_with_analogue(d) for d in s.datasets),
            "shots · seeds": f"{s.shots} per class · {', '.join(map(str, s.seeds))}",
            "recipe": f"SGD lr {r.lr:g}, batch {r.batch_size}, {r.epochs} epochs ({r.warmup_epochs} warm-up)",
            "analysis": f"{s.n_ctx}+{s.n_ctx} prompts, {s.analysis_images} test images per dataset",
            "device": s.device,
        }
        items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in rows.items())
        where = f", {html.escape(self.section)}" if self.section else ""
        # one line, closed, under the page's verdict strip: the settings are for the reader who checks them
        line = (f"{s.profile} profile · {s.model} · {len(s.datasets)} dataset{'s' * (len(s.datasets) != 1)} · "
                f"{len(s.seeds)} seed{'s' * (len(s.seeds) != 1)}")
        return (f'<details class="mmp-settings"><summary><span class="mmp-title">Settings of this build</span> '
                f'<span class="mmp-settings-line">{html.escape(line)}</span></summary><dl>{items}</dl>'
                # the command is for the few who re-run the page: closed, one line for the others
                f'<details class="mmp-rerun"><summary>Re-run this page with other parameters</summary>'
                f"<pre><code>{html.escape(rerun_command(s, self.notebook))}</code></pre></details>"
                f"<div>Paper: {PAPER}{where}.</div></details>")

    def _ipython_display_(self) -> None:
        # three outputs: the page's verdict strip (pending until `claims.report`, at the page's end, updates
        # it by its display id: nbclient writes the update into this output), the box (HTML), and the
        # datasets' references as MyST Markdown, whose {cite:p} roles the book resolves against book/references.bib
        from IPython.display import HTML, Markdown, display

        display(HTML(STRIP_PENDING), display_id=strip_display_id(self.notebook))
        display(HTML(self._repr_html_()), Markdown(dataset_sources(self.settings.datasets)))


def _with_analogue(dataset: str) -> str:
    """A dataset of this build, with the paper's dataset it stands for when it is a mini task."""
    paper = paper_dataset(dataset)
    return dataset_name(dataset) if paper == dataset else f"{dataset} (for {dataset_name(paper)})"


def dataset_sources(datasets: Sequence[str]) -> str:
    """One line of MyST Markdown citing the paper's datasets that `datasets` are or stand for, in order,
    e.g. "The paper's datasets (and the mini tasks standing for them): ImageNet {cite:p}`deng2009imagenet` (`objects`), …"."""
    parts = []
    for paper in dict.fromkeys(paper_dataset(d) for d in datasets):
        tasks = [d for d in datasets if d != paper and paper_dataset(d) == paper]
        cite = f" {{cite:p}}`{DATASET_CITATIONS[paper]}`" if paper in DATASET_CITATIONS else ""
        parts.append(f"{dataset_name(paper)}{cite}" + (f" ({', '.join(f'`{t}`' for t in tasks)})" if tasks else ""))
    standing = " (and the mini tasks standing for them)" if any(paper_dataset(d) != d for d in datasets) else ""
    return f"The paper's datasets{standing}: " + ", ".join(parts) + "."


def page_header(s: Settings, notebook: str, section: str | None = None) -> PageHeader:
    """The box a page shows below its title: this build's settings, the command re-running the page
    (`notebook` is its file stem, e.g. "01_zero_shot") and the paper's section it reproduces."""
    return PageHeader(s, notebook, section)


def _figcaption(text: str, number: str | None, paper: str | None) -> str:
    label = f'<span class="mmp-number">Figure {html.escape(number)}</span> — ' if number else ""
    cf = f" (cf. paper {html.escape(paper)})" if paper else ""
    return f"<figcaption>{label}{html.escape(text)}{cf}</figcaption>"


@dataclass(frozen=True)
class Captioned:
    """A figure element: an image (or none when the figure is a widget shown just before) and its caption."""

    caption: str
    number: str | None = None
    paper: str | None = None
    image: FigureImage | None = None

    def _repr_html_(self) -> str:
        image = ""
        if self.image is not None:  # shown at its drawn size (figure inches), never wider than the page; a phone
            # gets the phone drawing (`widgets.phone_layout`), and scrolls one that is still wider than its column
            hint = ('<div class="mmp-figure-hint">Wider than a phone screen: scroll the figure sideways.</div>'
                    if self.image.shown_width > PHONE_COLUMN else "")
            image = (f'{hint}<div class="mmp-figure-scroll" role="region" tabindex="0" aria-label="{html.escape(self.caption)}">'
                     f'{picture_html(self.image, self.caption)}</div>')
        return f'<figure class="mmp-figure">{image}{_figcaption(self.caption, self.number, self.paper)}</figure>'


def figure(fig, caption: str, number: str | None = None, paper: str | None = None) -> Captioned:
    """A matplotlib figure with its caption, e.g. figure(fig, "relevance share per token group", "3.1", "Fig. 2")
    → "Figure 3.1 — relevance share per token group (cf. paper Fig. 2)". The figure is closed (shown once)."""
    return Captioned(caption, number, paper, figure_image(fig))


def caption(text: str, number: str | None = None, paper: str | None = None) -> Captioned:
    """The caption of the widget (or other figure) displayed just before it in the same cell."""
    return Captioned(text, number, paper)
