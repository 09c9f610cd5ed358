"""No result is written by hand in the README or the book's introduction: numbers and verdicts come from the build.

A hand-written copy of a build's result goes stale when the build changes (README once stated an OPTIMAL
of 40.60 ± 21.51 the build no longer produced, and a verdict the build no longer reached)."""
from __future__ import annotations

import re

import pytest

from mmprompts.storage import project_root

PROSE = ("README.md", "book/intro.md")
# an estimate as the build prints it (mean ± spread), and a verdict stated for a named design or task
ESTIMATE = re.compile(r"\d+\.\d+ ± \d+\.\d+")
VERDICT = re.compile(r"\b(supports|contradicts|inconclusive|not testable|supported|contradicted) (with|in both|on) `")


@pytest.mark.parametrize("name", PROSE)
def test_no_result_is_written_by_hand(name):
    text = (project_root() / name).read_text()
    assert not ESTIMATE.findall(text), f"{name} states estimates by hand: {ESTIMATE.findall(text)[:3]}"
    assert not VERDICT.findall(text), f"{name} states verdicts by hand: {VERDICT.findall(text)[:3]}"


def test_the_check_finds_what_the_readme_used_to_say():
    old = ("| `land-novel` | ablation | 10 | 8.40 | 16.93 ± 7.29 | 12.40 ± 0.20 | 40.60 ± 21.51 |\n"
           "(contradicts with `land`, inconclusive with `land-novel`)")
    assert ESTIMATE.findall(old) == ["16.93 ± 7.29", "12.40 ± 0.20", "40.60 ± 21.51"]
    assert [m.group(1) for m in VERDICT.finditer(old)] == ["contradicts", "inconclusive"]
