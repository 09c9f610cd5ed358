"""Widgets that keep working in the static book: precomputed views switched by `jslink`ed controls.

A kernel-free page cannot recompute anything, so every view is rendered beforehand (a PNG
per combination of control values) and stored in the widget state. Each control is
linked in the browser (`jslink`) to the `selected_index` of the `Stack`s of its axis, so
moving it switches views with no Python and no network.
"""
from __future__ import annotations

import io
from typing import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt

__all__ = ["figure_png", "view_selector"]


def figure_png(fig, dpi: int = 80) -> bytes:
    """The figure as PNG bytes (closed afterwards: it lives on only in the widget)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def view_selector(views: Sequence, axes: Sequence[tuple[str, Sequence[str]]], slider: Sequence[bool] | None = None) -> widgets.VBox:
    """Controls over nested lists of PNG bytes: views[i][j]... is shown for axis values (i, j, ...).

    axes: (name, labels) per nesting level. `slider[k]` picks a slider (ordered values, e.g.
    layers) or a dropdown (categories) for axis k; default: slider when an axis has > 2 values.
    """
    slider = slider or [len(labels) > 2 for _, labels in axes]
    stacks: list[list[widgets.Stack]] = [[] for _ in axes]

    def build(node, depth: int):
        if depth == len(axes):
            return widgets.Image(value=node, format="png")
        name, labels = axes[depth]
        if len(node) != len(labels):
            raise ValueError(f"axis {name!r} has {len(labels)} labels but {len(node)} views")
        stack = widgets.Stack([build(child, depth + 1) for child in node], selected_index=0)
        stacks[depth].append(stack)
        return stack

    root = build(views, 0)
    controls = []
    for depth, ((name, labels), use_slider) in enumerate(zip(axes, slider)):
        kind = widgets.SelectionSlider if use_slider else widgets.Dropdown
        control = kind(options=list(labels), index=0, description=name,
                       style={"description_width": "initial"}, layout=widgets.Layout(width="420px"))
        for stack in stacks[depth]:
            widgets.jslink((control, "index"), (stack, "selected_index"))
        controls.append(control)
    return widgets.VBox([widgets.HBox(controls), root])
