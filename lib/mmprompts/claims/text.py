"""Plain text for verdict sentences: numbers with one minus sign, lists as a reader writes them, math as math.

Every verdict sentence is built from these, so no Python repr ("[1, 2, 3]", "0 (none)") and no
hyphen-minus reaches a reader:

    signed(-4.98)                      → "−4.98"        number(0.1091, 3) → "0.109"
    scientific(3.0e-08)                → "3.0 × 10⁻⁸"
    plus_minus(Estimate(-4.98, 0.52))  → "−4.98 ± 1.04"  (± 2 SE, as every rule judges)
    counted("depth", [11])             → "depth 11"      counted("seed", [1, 2, 3]) → "seeds 1–3"
    names(["objects", "land"])         → "objects and land"   names([]) → "none"
    among(["objects", "land"])         → "2 (objects and land)"   among([]) → "none"
    T_SOS, INPUT_SCALE                 → "\\(t_{\\mathrm{SOS}}\\)", …  (typeset by MathJax in the book)

Math is written as TeX between \\( and \\); the page typesets it where its element (or an ancestor)
has the class `mathjax_process` (the book's MathJax configuration ignores the rest of a page's outputs).
"""
from __future__ import annotations

from typing import Iterable, Sequence

from .core import Z, Estimate, shown_digits

__all__ = ["INPUT_SCALE", "MINUS", "PROMPT_SHARE", "T_EOS", "T_SOS", "among", "counted", "math", "names", "number",
           "plus_minus", "ranges", "scientific", "signed"]

MINUS = "\u2212"


def _minus(text: str) -> str:
    return text.replace("-", MINUS)


def number(value: float, digits: int = 2) -> str:
    """`value` with `digits` decimals and the minus sign U+2212: number(-0.5) → "−0.50"."""
    return _minus(f"{value:.{digits}f}")


def signed(value: float, digits: int = 2) -> str:
    """`value` with its sign always written: signed(1.5) → "+1.50", signed(-1.5) → "−1.50"."""
    return _minus(f"{value:+.{digits}f}")


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def scientific(value: float, digits: int = 1) -> str:
    """A very small or large value in a reader's notation: scientific(3.0e-08) → "3.0 × 10⁻⁸"."""
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    return f"{_minus(mantissa)} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def plus_minus(estimate: Estimate, digits: int = 2, sign: bool = True) -> str:
    """An estimate as the rules judge it, mean ± 2 SE: "−4.98 ± 1.04" (the mean alone when it rests on one value).

    At least `digits` decimals, more where fewer would not show the decision (`core.shown_digits`)."""
    half = Z * estimate.se
    digits = shown_digits(estimate.mean, half, digits)
    mean = signed(estimate.mean, digits) if sign else number(estimate.mean, digits)
    return f"{mean} ± {number(half, digits)}" if estimate.se else mean


def ranges(values: Iterable[int]) -> str:
    """Integers in order, runs of three or more consecutive ones as a range: [1, 2, 3, 8] → "1–3 and 8"."""
    ordered = sorted(set(values))
    runs: list[list[int]] = []
    for v in ordered:
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{run[0]}–{run[-1]}")
        else:
            parts.extend(str(v) for v in run)
    return names(parts)


def counted(noun: str, values: Sequence[int]) -> str:
    """A noun with its integer values, plural when there are several: "depth 11", "seeds 1–3"."""
    return f"{noun}{'s' if len(set(values)) > 1 else ''} {ranges(values)}"


def names(items: Iterable[str]) -> str:
    """Items as a sentence lists them: "a", "a and b", "a, b and c"; "none" when there are none."""
    items = [str(i) for i in items]
    if not items:
        return "none"
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def among(items: Sequence[str]) -> str:
    """How many items and which, as a verdict counts datasets: "none", "1 (land)", "2 (objects and land)"."""
    return f"{len(items)} ({names(items)})" if items else "none"


def math(tex: str) -> str:
    """TeX as inline math in a sentence: math("t_{SOS}") → "\\(t_{SOS}\\)"."""
    return f"\\({tex}\\)"


T_SOS = math(r"t_{\mathrm{SOS}}")
T_EOS = math(r"t_{\mathrm{EOS}}")
INPUT_SCALE = math(r"Z_{\mathrm{in}}/(Z_{\mathrm{in}}+Z_{p})")  # eq. 32's factor on the input tokens' attention
PROMPT_SHARE = math(r"1 - Z_{\mathrm{in}}/(Z_{\mathrm{in}}+Z_{p})")  # the query's attention on the prompts
