"""Where pages record their verdicts during a book build, and the rows of the ledger page."""
from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence

from ..storage import atomic_write_text, project_root
from .core import Verdict


VERDICTS_ENV = "MMPROMPTS_VERDICTS"


def verdicts_folder() -> Path:
    """Where pages record their verdicts: $MMPROMPTS_VERDICTS (set by the book build), else the
    book's `book/executed/verdicts/` (what the ledger page of a built book reads)."""
    return Path(os.environ.get(VERDICTS_ENV) or project_root() / "book" / "executed" / "verdicts")


def record_verdicts(page: str, verdicts: Iterable[Verdict], folder: Path | None = None) -> Path:
    """Write a page's verdicts as JSON (the ledger page reads every page's file)."""
    path = (folder or verdicts_folder()) / f"{page}.json"
    atomic_write_text(path, json.dumps([v.to_json() for v in verdicts], indent=1, ensure_ascii=False))
    return path


def load_verdicts(folder: Path | None = None) -> list[Verdict]:
    """Every recorded verdict, in page order, each page's in the order it recorded them."""
    folder = folder or verdicts_folder()
    return [Verdict.from_json(item) for path in sorted(folder.glob("*.json"))
            for item in json.loads(path.read_text())]


@dataclass(frozen=True)
class PageVerdicts:
    """What a page concludes: its verdicts, one box each."""

    verdicts: tuple[Verdict, ...]

    def _repr_html_(self) -> str:
        return "".join(v._repr_html_() for v in self.verdicts)

    def _repr_markdown_(self) -> str:
        return "\n\n".join(v._repr_markdown_() for v in self.verdicts)


def report(page: str, verdicts: Sequence[Verdict], scope: str = "") -> PageVerdicts:
    """A page's conclusion: shown under the cell, and recorded for the ledger when the book is
    being built ($MMPROMPTS_VERDICTS set), so a page run on its own writes nothing. `scope` (the
    page's `Settings.scope`) says where the verdicts hold; it is stamped on each."""
    verdicts = [replace(v, scope=scope) if scope else v for v in verdicts]
    if os.environ.get(VERDICTS_ENV):
        record_verdicts(page, verdicts)
    return PageVerdicts(tuple(verdicts))


@dataclass(frozen=True)
class _PageLink:
    """A link to a book page (its notebook stem) inside an HTML table; every page sits in one folder."""

    page: str

    def __html__(self) -> str:
        return f'<a href="{html.escape(self.page)}.html">{html.escape(self.page)}</a>'

    def __str__(self) -> str:
        return self.page


def ledger_rows(verdicts: Iterable[Verdict], kind: str = "claim") -> list[dict]:
    """The ledger's rows for `tables.html_table`: one per verdict of that kind ("claim" or "check").
    A claim quotes the paper; a check describes what this implementation must satisfy (not a quotation)."""
    said = ("the paper says", "“{}”") if kind == "claim" else ("what is checked", "{}")
    return [{kind: v.claim.id, said[0]: said[1].format(v.claim.quote), "where": v.claim.where,
             "this build": v.sentence, "verdict": v.outcome, "page": _PageLink(v.claim.page)}
            for v in verdicts if v.claim.kind == kind]
