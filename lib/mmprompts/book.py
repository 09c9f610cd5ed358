"""Build the book: execute every notebook with Papermill, then render the HTML with Jupyter Book 1.

    python -m mmprompts book [--profile mini] [-p NAME VALUE ...]

The Jupytext sources in `notebooks/` are converted in memory, executed into
`book/executed/` (build output, git-ignored), their cells tagged for the reader (parameter
cells removed, code collapsed: `tag_for_reader`) and compiled by `jupyter-book build` with
execution off. A failing cell fails the command. Trained runs live in the run cache, so a
second build only re-runs the analyses. The widget JavaScript (`@jupyter-widgets/html-manager`'s
`embed.js`) is fetched once from the npm registry into `book/widget-js/` and served by the
book itself, so the widgets work with no network.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from .claims import VERDICTS_ENV
from .storage import project_root

__all__ = ["HTML_MANAGER", "build_book", "execute_notebook", "notebook_sources", "tag_for_reader", "widget_script"]

HTML_MANAGER = "@jupyter-widgets/html-manager@1.0.15"
MATHJAX = "mathjax@3.2.2"


def notebook_sources(root: Path | None = None) -> list[Path]:
    return sorted((root or project_root()).joinpath("notebooks").glob("[0-9][0-9]_*.py"))


def execute_notebook(source: Path, output: Path, parameters: dict | None = None, progress: bool = True) -> Path:
    """Run one Jupytext notebook with Papermill (in its own folder) and write the executed .ipynb."""
    import jupytext
    import nbformat
    import papermill

    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        converted = Path(tmp) / f"{source.stem}.ipynb"
        nbformat.write(jupytext.read(source), converted)
        papermill.execute_notebook(str(converted), str(output), parameters=parameters or {}, kernel_name="python3",
                                   cwd=str(source.parent), progress_bar=progress, request_save_on_cell_execute=False)
    return output


# Cell tags that already decide how a cell shows in the book (myst-nb's, and "show-input" to keep
# a code cell open); a cell carrying one keeps it.
_SHOWN_AS = {"remove-cell", "remove-input", "hide-cell", "hide-input", "show-input"}


def tag_for_reader(notebook: Path) -> None:
    """Tag an executed notebook's code cells for the book, in place: the `parameters` cell and
    Papermill's `injected-parameters` cell are removed from the page, every other code cell's
    input is collapsed (one click opens it); markdown and outputs stay. The .ipynb keeps every cell."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if {"parameters", "injected-parameters"} & set(tags):
            tags.append("remove-cell")
        elif not _SHOWN_AS & set(tags):
            tags.append("hide-input")
    nbformat.write(nb, notebook)


def widget_script(root: Path) -> Path:
    """`book/widget-js/`: the widget manager's embed.js with its fonts, and MathJax, from npm on first use.

    Both are served by the book so that a page loads nothing from outside (JB1 takes them from
    CDNs by default)."""
    folder = root / "book" / "widget-js"
    if (folder / "embed.js").is_file() and (folder / "mathjax" / "tex-mml-chtml.js").is_file():
        return folder / "embed.js"
    if shutil.which("npm") is None:
        raise RuntimeError(f"npm is needed once to fetch {HTML_MANAGER} and {MATHJAX} (the scripts the book serves "
                           "itself); install Node.js/npm")
    with tempfile.TemporaryDirectory() as tmp:
        for package, prefix, target in ((HTML_MANAGER, "package/dist/", folder), (MATHJAX, "package/es5/", folder / "mathjax")):
            subprocess.run(["npm", "pack", package, "--silent"], cwd=tmp, check=True, stdout=subprocess.PIPE)
            archive = max(Path(tmp).glob("*.tgz"), key=lambda p: p.stat().st_mtime)
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    name = member.name
                    if member.isfile() and name.startswith(prefix) and not name.endswith((".map", ".d.ts")):
                        out = target / name[len(prefix):]
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_bytes(tar.extractfile(member).read())
            archive.unlink()
    return folder / "embed.js"


def build_book(parameters: dict | None = None, html: bool = True, progress: bool = True) -> Path:
    """Execute all notebooks into book/executed/ and build the HTML; returns the HTML folder."""
    root = project_root()
    widget_script(root)
    # Progress bars would be saved into the pages as frozen widgets; the kernels inherit this, and
    # the library's bars obey it (mmprompts.progress). Papermill's own bar stays in the console.
    os.environ.setdefault("TQDM_DISABLE", "1")
    executed = root / "book" / "executed"
    # Each page records its verdicts here and the ledger page (executed last) reads them; start
    # empty so that the ledger never shows a verdict of an earlier build.
    verdicts = executed / "verdicts"
    shutil.rmtree(verdicts, ignore_errors=True)
    os.environ[VERDICTS_ENV] = str(verdicts)
    for source in notebook_sources(root):
        started = time.perf_counter()
        print(f"executing {source.name} ...", flush=True)
        tag_for_reader(execute_notebook(source, executed / f"{source.stem}.ipynb", parameters, progress=progress))
        print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    if not html:
        return executed
    subprocess.run([sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(root),
                    "--warningiserror", "--keep-going", "--quiet"], check=True, cwd=root)
    return root / "_build" / "html"
