"""Every number a verdict box quotes is one the reader can find on the same page.

A verdict sentence (`mmprompts.claims`) quotes this build's numbers; each decimal number in it
must be, as printed, the rounding of a number in one of the page's tables (a reader checks a
verdict against the tables above it). Not checked: integers (counts of datasets, depths, seeds),
the paper's own numbers (after "paper"), and a rule's boundaries (after ≤, ≥, <, >, "tolerance",
"beyond", "up to" a 'slight'; and the box's "Rule:" line, which states them).

Runs when MMPROMPTS_BOOK_HTML names a built book.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

BOOK = os.environ.get("MMPROMPTS_BOOK_HTML")
pytestmark = pytest.mark.skipif(not BOOK, reason="set MMPROMPTS_BOOK_HTML to a built book (python -m mmprompts book)")
PAGES = sorted(p.relative_to(BOOK).as_posix() for p in Path(BOOK).glob("book/executed/0[1-7]_*.html")) if BOOK else []

# a decimal number, in plain ("0.109"), Python ("3.0e-08") or reader's ("3.0 × 10⁻⁸") notation
NUMBER = re.compile(r"(?<![\w.])[+\u2212-]?\d+\.\d+(?:e[+\u2212-]?\d+| × 10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)?(?!\d|\.\d)")
_PLAIN = str.maketrans("\u2212⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "--0123456789")
# what comes right before a number that is not this build's measurement
NOT_MEASURED = re.compile(r"(paper[^.;)]*|[≤≥<>]\s*|tolerance\s*|beyond\s*|'slight' up to\s*|(Sec|Fig|App)\.\s*|Table\s*)$")

# The sentence of each verdict box (its outcome, place, quotation and rule removed), and the page's tables' text.
_TEXTS = """() => {
  const sentences = Array.from(document.querySelectorAll('div.mmp-verdict')).map(box => {
    const copy = box.cloneNode(true);
    copy.querySelectorAll('.mmp-outcome, .mmp-where, q, .mmp-rule').forEach(el => el.remove());
    return copy.textContent.trim();
  });
  const tables = Array.from(document.querySelectorAll('main table'))
    .map(t => Array.from(t.querySelectorAll('th, td')).map(cell => cell.textContent).join(' \t '));
  return {sentences, tables};
}"""


def _parse(text: str) -> tuple[float, float]:
    """A printed number's value and half its last digit's step (what rounding to it may hide)."""
    text = text.translate(_PLAIN).replace(" × 10", "e")
    mantissa, _, exponent = text.partition("e")
    scale = 10.0 ** int(exponent or 0)
    return float(mantissa) * scale, 0.5 * 10.0 ** -len(mantissa.split(".")[1]) * scale


def quoted_numbers(sentence: str) -> list[str]:
    """The measured numbers a verdict sentence quotes, as printed."""
    return [m.group() for m in NUMBER.finditer(sentence) if not NOT_MEASURED.search(sentence[max(0, m.start() - 40):m.start()])]


def shown_in(number: str, tables: list[str]) -> bool:
    """Whether `number`, as printed, is the rounding of a number in the tables (either sign: a table
    may show a gap the other way round)."""
    value, step = _parse(number)
    return any(abs(abs(_parse(t)[0]) - abs(value)) <= step * (1 + 1e-9)
               for table in tables for t in NUMBER.findall(table))


def test_quoted_numbers_rule():
    sentence = "A gap of \u221210.1 ± 3.9 points (paper: +14.8, the largest); 0.20 (changed ≥ 0.02, tolerance 1e-05)."
    assert quoted_numbers(sentence) == ["\u221210.1", "3.9", "0.20"]
    # references to the paper's sections, figures and tables are not measurements
    assert quoted_numbers("its premise (Sec. 3.3.1) fails; Table 2.1 and Fig. 4.2 show 0.12") == ["0.12"]
    assert shown_in("0.109", ["land 0.1094"]) and shown_in("\u221210.1", ["gap 10.12"])
    assert not shown_in("0.109", ["land 0.20", "0.1"])
    # scientific notation, as a table prints it (1.3e-06) or a sentence does (1.3 × 10⁻⁶)
    assert quoted_numbers("block 1 3.0 × 10⁻⁸, error 1.3e-06") == ["3.0 × 10⁻⁸", "1.3e-06"]
    assert shown_in("1.3 × 10⁻⁶", ["objects 1.3e\u221206"]) and not shown_in("1.3 × 10⁻⁶", ["1.2e-06", "1.3"])


@pytest.mark.parametrize("path", PAGES)
def test_verdict_numbers_appear_in_the_page_tables(server, open_page, path):
    page, failed, remote = open_page()
    page.goto(f"{server}/{path}", wait_until="networkidle")
    texts = page.evaluate(_TEXTS)
    page.close()
    missing = {number: sentence[:120] for sentence in texts["sentences"] for number in quoted_numbers(sentence)
               if not shown_in(number, texts["tables"])}
    assert not missing, f"numbers a verdict quotes that no table of the page shows: {missing}"
