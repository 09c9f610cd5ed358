"""Widgets that keep working in the static book: precomputed views switched by `jslink`ed controls.

A kernel-free page cannot recompute anything, so every view is rendered beforehand (an image
per combination of control values) and stored in the widget state. Each control is
linked in the browser (`jslink`) to the `selected_index` of the `Stack`s of its axis, so
moving it switches views with no Python and no network.

Every figure image of the book (a view here, or `page.figure`) is drawn by `figure_image`: one figure
inch is `CSS_PX_PER_INCH` CSS pixels on the page, drawn at `DENSITY` image pixels per CSS pixel
(sharp on HiDPI screens) and embedded as WebP. Its <img> carries the size of its smallest text and its
dpi (data- attributes), so the book's browser test can check how large that text is where the page
shows it. A figure wider than a phone's column is drawn a second time for it (`phone_layout`: panels
stacked in one column, `PHONE_WIDTH` wide); the page picks the drawing by the screen's width (`picture_html`).
"""
from __future__ import annotations

import base64
import html
import io
import textwrap
from dataclasses import dataclass
from typing import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.gridspec import GridSpec
from matplotlib.image import AxesImage
from matplotlib.text import Text
from PIL import Image

__all__ = ["CSS_PX_PER_INCH", "DENSITY", "Drawing", "FigureImage", "PHONE_COLUMN", "PHONE_MEDIA", "PHONE_WIDTH", "WEBP_QUALITY",
           "figure_image", "phone_layout", "picture_html", "smallest_text", "view_selector"]

CSS_PX_PER_INCH = 100  # a figure drawn 6.8 in wide fills the book's text column (about 690 CSS px at 1280 px)
DENSITY = 2  # image pixels per CSS pixel
# WebP at this quality keeps 8-pt text sharp at `DENSITY` and takes, of the PNG's bytes, 24% (page 5's charts),
# 35% (page 3's) and 63% (page 1's pictures), measured on this book's figures: every page stays under 8 MB
WEBP_QUALITY = 90


def smallest_text(fig) -> float:
    """The smallest font size (points) of the text the figure draws: visible, non-empty, in a visible axes."""
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and (t.axes is None or t.axes.get_visible())]
    return min(sizes, default=float("inf"))


@dataclass(frozen=True)
class Drawing:
    """One drawing of a figure as the page embeds it: WebP bytes, their size in image pixels, the dpi they
    were drawn at and the smallest text drawn (points), which the page carries as data- attributes of its
    <img> so that the book's browser test can check how large that text is where the page shows it."""

    webp: bytes
    width: int
    height: int
    dpi: int
    smallest_text_pt: float

    @property
    def css_width(self) -> int:
        """The width (CSS px) it is shown at: its drawn size, `DENSITY` image pixels per CSS pixel (rounded
        down: never below `DENSITY`)."""
        return int(self.width * CSS_PX_PER_INCH / self.dpi)

    def data_uri(self) -> str:
        return f"data:image/webp;base64,{base64.b64encode(self.webp).decode()}"

    def attributes(self) -> str:
        """The <img> / <source> attributes a page shows it with: its CSS width and what it draws."""
        return (f'width="{self.css_width}" data-dpi="{self.dpi}" '
                f'data-smallest-text-pt="{self.smallest_text_pt:g}"')


@dataclass(frozen=True)
class FigureImage:
    """A figure as drawn for the page's column, and `phone`: the same figure drawn for a phone's column
    (`phone_layout`), or None when the column's drawing fits a phone already."""

    drawing: Drawing
    phone: Drawing | None = None

    @property
    def shown_width(self) -> int:
        """The width (CSS px) the figure takes on a phone: its phone drawing's, else its own."""
        return (self.phone or self.drawing).css_width


def _drawing(fig, dpi: int) -> Drawing:
    buffer = io.BytesIO()
    smallest = smallest_text(fig)
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    image = Image.open(buffer).convert("RGB")  # drawn on white: no transparency to keep
    webp = io.BytesIO()
    image.save(webp, format="WEBP", quality=WEBP_QUALITY)
    return Drawing(webp.getvalue(), image.width, image.height, dpi, smallest)


def figure_image(fig, density: int = DENSITY) -> FigureImage:
    """The figure drawn at `density` × `CSS_PX_PER_INCH` dpi, and, when it is wider than a phone's column,
    its phone drawing (closed afterwards: it lives on only in the page)."""
    dpi = CSS_PX_PER_INCH * density
    drawing, phone = _drawing(fig, dpi), None
    if drawing.css_width > PHONE_COLUMN and phone_layout(fig):
        phone = _drawing(fig, dpi)
        if phone.css_width > PHONE_COLUMN:  # labels ran past its width: narrower panels, drawn once more
            width, height = fig.get_size_inches()
            fig.set_size_inches(width - (phone.css_width - PHONE_COLUMN + 10) / CSS_PX_PER_INCH, height)
            phone = _drawing(fig, dpi)
    plt.close(fig)
    return FigureImage(drawing, phone)


PHONE_WIDTH = 3.4  # inches: a figure's phone drawing, 340 CSS px (the text column of a 390-px screen is about 358)
PHONE_MEDIA = "(max-width: 600px)"  # the screens that get the phone drawing (book/style/mmprompts.css: the same width)


def _wrapped(text: str, inches: float, size: float) -> str:
    """`text` broken into lines of at most `inches` at `size` points (a character is about 0.55 em wide)."""
    return "\n".join(textwrap.fill(line, max(8, int(inches * 72 / (0.55 * size))), break_long_words=False,
                                   break_on_hyphens=False) for line in text.split("\n"))


def phone_layout(fig) -> bool:
    """Re-lay `fig` out for a phone's column, in place: `PHONE_WIDTH` wide, its panels stacked in one column
    (each as tall as its row was), tick labels on every panel, the figure's legends in at most two columns
    and long labels and titles wrapped, so its text keeps its size in points. Grids of pictures only keep their
    rows and columns and shrink instead (a picture panel has no text to lose), or, more than four columns wide,
turn them into rows. False when there is nothing
    to re-lay (no panel of a grid); the figure is then left as it was."""
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_subplotspec() is not None]
    if not panels:
        return False
    width, height = fig.get_size_inches()
    grid = panels[0].get_subplotspec().get_gridspec()
    rows, cols = grid.get_geometry()
    pictures = all(any(isinstance(artist, AxesImage) for artist in ax.get_children()) for ax in panels)
    if pictures and cols > 4:  # a wide grid of pictures: its columns become rows (and titles row labels)
        turned = GridSpec(cols, rows, figure=fig)
        for ax in panels:
            spec = ax.get_subplotspec()
            ax.set_subplotspec(turned[spec.colspan.start, spec.rowspan.start])
            title, ylabel = ax.get_title(), ax.get_ylabel()
            ax.set_title(ylabel)
            ax.set_ylabel(title)
        fig.set_size_inches(PHONE_WIDTH, (PHONE_WIDTH - 0.9) / rows * cols + 0.4)
    elif pictures or cols == 1:
        fig.set_size_inches(PHONE_WIDTH, height * min(1.0, PHONE_WIDTH / width) if pictures else height)
    else:
        order = sorted(panels, key=lambda ax: (ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start))
        stacked = GridSpec(len(order), 1, figure=fig)
        ylabel = next((ax.get_ylabel() for ax in order if ax.get_ylabel()), "")
        for index, ax in enumerate(order):
            ax.set_subplotspec(stacked[index, 0])
            ax.tick_params(labelleft=True, labelbottom=True)  # a shared axis hid them on inner panels
            if ylabel and not ax.get_ylabel():
                ax.set_ylabel(ylabel)
        fig.set_size_inches(PHONE_WIDTH, height / rows * len(order) + 0.4)
    for legend in list(fig.legends):  # the book's figure legends sit above the panels (`figures._legend_above`)
        labels = [t.get_text() for t in legend.texts]
        size = legend.texts[0].get_fontsize() if labels else 8
        fits = int((PHONE_WIDTH - 0.2) * 72 // (max(map(len, labels), default=1) * 0.55 * size + 30))
        title = legend.get_title().get_text()
        handles = legend.legend_handles
        legend.remove()
        fig.legend(handles, labels, loc="outside upper center", ncols=max(1, min(len(labels), fits)), title=title or None)
    for text in (fig._supxlabel, fig._suptitle):
        if text is not None and text.get_text():
            text.set_text(_wrapped(text.get_text(), PHONE_WIDTH - 0.3, text.get_fontsize()))
    for ax in panels:  # a panel's labels and titles within its own width
        inches = 0.75 * ax.get_subplotspec().get_position(fig).width * fig.get_size_inches()[0]  # less its share of the margins
        for text in (ax.xaxis.label, ax.title, ax._left_title, ax._right_title):
            if text.get_text():
                text.set_text(_wrapped(text.get_text(), inches, text.get_fontsize()))
    for ax in panels:  # a y label runs along the panel's height
        label = ax.yaxis.label
        if label.get_text():
            label.set_text(_wrapped(label.get_text(), ax.get_subplotspec().get_position(fig).height * fig.get_size_inches()[1],
                                    label.get_fontsize()))
    return True


def picture_html(image: FigureImage, alt: str, style: str = "") -> str:
    """An <img> of a figure at its drawn size, with its alt text; a figure with a phone drawing becomes a
    <picture> whose source a screen of at most `PHONE_MEDIA` picks."""
    img = (f'<img src="{image.drawing.data_uri()}" {image.drawing.attributes()} alt="{html.escape(alt)}"'
           + (f' style="{style}"' if style else "") + "/>")
    if image.phone is None:
        return img
    return (f'<picture><source media="{PHONE_MEDIA}" srcset="{image.phone.data_uri()}" {image.phone.attributes()}/>'
            f"{img}</picture>")


PHONE_COLUMN = 355  # CSS px: the text column of a 390-px phone (less a scroll bar); a view wider than this scrolls sideways there


def _view(image: FigureImage, alt: str) -> widgets.HTML:
    """One precomputed view: the figure as an <img> at its drawn size, with its alt text (an ipywidgets Image has none)."""
    return widgets.HTML(picture_html(image, alt, style="max-width: 100%; height: auto"))


def view_selector(views: Sequence, axes: Sequence[tuple[str, Sequence[str]]], slider: Sequence[bool] | None = None) -> widgets.VBox:
    """Controls over nested lists of figures (from `figure_image`): views[i][j]... is shown for axis values (i, j, ...).

    axes: (name, labels) per nesting level. `slider[k]` picks a slider (ordered values, e.g.
    layers) or a dropdown (categories) for axis k; default: slider when an axis has > 2 values.
    The controls wrap onto new lines on a narrow screen; each view is shown at its drawn size,
    never wider than the column, except on a phone, where it keeps its drawn size and scrolls sideways
    (book/style/mmprompts.css: class `mmp-views`). Each view's alt text names its axis values.
    """
    slider = slider or [len(labels) > 2 for _, labels in axes]
    stacks: list[list[widgets.Stack]] = [[] for _ in axes]

    widest = 0

    def build(node, depth: int, path: tuple[str, ...] = ()):
        nonlocal widest
        if depth == len(axes):
            widest = max(widest, node.shown_width)
            return _view(node, "The view for " + ", ".join(f"{name} {label}" for (name, _), label in zip(axes, path)))
        name, labels = axes[depth]
        if len(node) != len(labels):
            raise ValueError(f"axis {name!r} has {len(labels)} labels but {len(node)} views")
        stack = widgets.Stack([build(child, depth + 1, (*path, label)) for child, label in zip(node, labels)],
                              selected_index=0)
        stacks[depth].append(stack)
        return stack

    root = build(views, 0)
    controls = []
    for depth, ((name, labels), use_slider) in enumerate(zip(axes, slider)):
        kind = widgets.SelectionSlider if use_slider else widgets.Dropdown
        # at most 420 px, and the whole row on a phone: a control never shrinks below its label and a usable track
        control = kind(options=list(labels), index=0, description=name, style={"description_width": "initial"},
                       layout=widgets.Layout(width="420px", max_width="100%", min_width="240px", flex="0 1 420px"))
        for stack in stacks[depth]:
            widgets.jslink((control, "index"), (stack, "selected_index"))
        controls.append(control)
    root.add_class("mmp-views")
    hint = ([widgets.HTML('<div class="mmp-figure-hint">Wider than a phone screen: scroll the figure sideways.</div>')]
            if widest > PHONE_COLUMN else [])
    return widgets.VBox([widgets.HBox(controls, layout=widgets.Layout(flex_flow="row wrap", gap="0.3em 1em")), *hint, root])
