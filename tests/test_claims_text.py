"""The plain-text helpers of verdict sentences (mmprompts.claims.text)."""
from __future__ import annotations

import pytest

from mmprompts.claims import Estimate
from mmprompts.claims.text import (INPUT_SCALE, MINUS, T_SOS, among, counted, math, names, number, plus_minus, ranges,
                                   scientific, signed)


def test_numbers_use_one_minus_sign():
    assert number(-0.5) == f"{MINUS}0.50" and number(0.1091, 3) == "0.109" and number(2.0, 0) == "2"
    assert signed(1.5) == "+1.50" and signed(-1.5) == f"{MINUS}1.50" and signed(0.0) == "+0.00"
    assert "-" not in signed(-1e-3, 4) + number(-12.345, 1)


def test_scientific_notation():
    assert scientific(3.0e-08) == "3.0 × 10⁻⁸" and scientific(1.25e-6, 2) == "1.25 × 10⁻⁶"
    assert scientific(-4.0e5) == f"{MINUS}4.0 × 10⁵" and scientific(1e-10) == "1.0 × 10⁻¹⁰"


def test_plus_minus_is_two_standard_errors():
    assert plus_minus(Estimate(-4.98, 0.52, 3)) == f"{MINUS}4.98 ± 1.04"
    assert plus_minus(Estimate(0.1234, 0.01, 3), 3, sign=False) == "0.123 ± 0.020"
    assert plus_minus(Estimate(7.0)) == "+7.00"  # one value: no spread to show


def test_plus_minus_shows_enough_digits_for_the_decision_it_reports():
    # 0.0134 beyond 2 SE = 0.0126: at 3 decimals both read 0.013; two significant figures of the half-width tell them apart
    e = Estimate(0.0134, 0.0063, 10)
    assert e.low > 0 and plus_minus(e, 3) == "+0.0134 ± 0.0126"
    within = Estimate(0.0126, 0.0067, 10)  # 0.0126 within 2 SE = 0.0134: the display says so too
    assert within.low < 0 and plus_minus(within, 3) == "+0.0126 ± 0.0134"
    assert plus_minus(Estimate(1.5, 0.26, 3), 1) == "+1.5 ± 0.5"  # a clear decision needs no more digits
    assert plus_minus(Estimate(12.0, 5.0, 3), 2) == "+12.00 ± 10.00"  # never fewer decimals than asked
    # a table cell (Estimate's own text, 3 decimals) follows the same rule
    assert str(e) == "+0.0134 ± 0.0126" and str(Estimate(-0.5, 0.1, 4)) == "\u22120.500 ± 0.200"


@pytest.mark.parametrize("values, text", [
    ([11], "11"), ([1, 2, 3], "1–3"), ([3, 1, 2, 8], "1–3 and 8"), ([1, 4, 8, 11, 12], "1, 4, 8, 11 and 12"),
    ([1, 2], "1 and 2"), ([1, 2, 3, 5, 6, 7, 9], "1–3, 5–7 and 9"), ([], "none"), ([2, 2, 3, 4], "2–4")])
def test_ranges(values, text):
    assert ranges(values) == text


def test_counted_and_names():
    assert counted("depth", [11]) == "depth 11" and counted("seed", [1, 2, 3]) == "seeds 1–3"
    assert names(["objects"]) == "objects" and names(["a", "b"]) == "a and b" and names("abc") == "a, b and c"
    assert names([]) == "none"
    assert among([]) == "none" and among(["land"]) == "1 (land)" and among(["a", "b"]) == "2 (a and b)"


def test_math_is_delimited_tex():
    assert math("x_i") == "\\(x_i\\)"
    assert T_SOS == "\\(t_{\\mathrm{SOS}}\\)" and INPUT_SCALE.startswith("\\(Z_{\\mathrm{in}}/(") and INPUT_SCALE.endswith(")\\)")
