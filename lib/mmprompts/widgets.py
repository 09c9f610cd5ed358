"""Widgets that keep working in the static book: precomputed views switched by `jslink`ed controls.

A kernel-free page cannot recompute anything, so every view is rendered beforehand (a PNG
per combination of control values) and stored in the widget state. Each control is
linked in the browser (`jslink`) to the `selected_index` of the `Stack`s of its axis, so
moving it switches views with no Python and no network.

Every figure image of the book (a view here, or `page.figure`) is drawn by `figure_png`: one figure
inch is `CSS_PX_PER_INCH` CSS pixels on the page, drawn at `DENSITY` image pixels per CSS pixel
(sharp on HiDPI screens). The PNG records the size of its smallest text, so the book's browser
test can check how large that text is where the page shows it.
"""
from __future__ import annotations

import base64
import html
import io
import struct
from typing import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.text import Text

__all__ = ["CSS_PX_PER_INCH", "DENSITY", "DPI_KEY", "PHONE_COLUMN", "SMALLEST_TEXT_KEY", "css_width", "figure_png", "png_info", "smallest_text",
           "view_selector"]

CSS_PX_PER_INCH = 100  # a figure drawn 6.8 in wide fills the book's text column (about 690 CSS px at 1280 px)
DENSITY = 2  # image pixels per CSS pixel
SMALLEST_TEXT_KEY = "mmprompts:smallest-text-pt"  # PNG text chunk: the smallest font size drawn, in points
DPI_KEY = "mmprompts:dpi"


def smallest_text(fig) -> float:
    """The smallest font size (points) of the text the figure draws: visible, non-empty, in a visible axes."""
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and (t.axes is None or t.axes.get_visible())]
    return min(sizes, default=float("inf"))


def figure_png(fig, density: int = DENSITY) -> bytes:
    """The figure as PNG bytes at `density` × `CSS_PX_PER_INCH` dpi, its smallest text size recorded
    in the PNG (closed afterwards: it lives on only in the page)."""
    dpi = CSS_PX_PER_INCH * density
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight",
                metadata={SMALLEST_TEXT_KEY: f"{smallest_text(fig):g}", DPI_KEY: str(dpi)})
    plt.close(fig)
    return buffer.getvalue()


def png_info(png: bytes) -> dict:
    """Width and height in pixels, and the text chunks, of PNG bytes."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not PNG data (the signature is missing)")
    width, height = struct.unpack(">II", png[16:24])
    texts, offset = {}, 8
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset:offset + 8])
        if kind == b"tEXt":
            key, _, value = png[offset + 8:offset + 8 + length].partition(b"\0")
            texts[key.decode("latin-1")] = value.decode("latin-1")
        offset += 12 + length
    return {"width": width, "height": height, "text": texts}


def css_width(png: bytes) -> int:
    """The width (CSS px) a figure PNG is shown at: its drawn size, `DENSITY` image pixels per CSS pixel."""
    info = png_info(png)
    dpi = float(info["text"].get(DPI_KEY, CSS_PX_PER_INCH * DENSITY))
    return int(info["width"] * CSS_PX_PER_INCH / dpi)  # rounded down: never below `DENSITY` pixels per CSS pixel


PHONE_COLUMN = 360  # CSS px: the text column of a 390-px phone; a view wider than this scrolls sideways there


def _view(png: bytes, alt: str) -> widgets.HTML:
    """One precomputed view: the PNG as an <img> at its drawn size, with its alt text (an ipywidgets Image has none)."""
    return widgets.HTML(f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" width="{css_width(png)}" '
                        f'style="max-width: 100%; height: auto" alt="{html.escape(alt)}"/>')


def view_selector(views: Sequence, axes: Sequence[tuple[str, Sequence[str]]], slider: Sequence[bool] | None = None) -> widgets.VBox:
    """Controls over nested lists of PNG bytes (from `figure_png`): views[i][j]... is shown for axis values (i, j, ...).

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
            widest = max(widest, css_width(node))
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
