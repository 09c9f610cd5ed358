"""Build the book: train its runs, execute every notebook with Papermill, then render the HTML with Jupyter Book 1.

    python -m mmprompts book [--profile mini] [-p NAME VALUE ...]

The runs of all pages train first, together (`book_runs`); then the Jupytext sources in
`notebooks/` are converted in memory, executed into `book/executed/` (build output,
git-ignored), their cells tagged for the reader (parameter
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
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .claims import VERDICTS_ENV
from .experiments import RunSpec, results
from .models import LoadedCLIP
from .profiles import Settings, from_parameters
from .storage import cache_root, project_root

__all__ = ["HTML_MANAGER", "SUMMARY", "book_runs", "build_book", "execute_notebook", "interrupt_only_running_cells",
           "notebook_sources", "tag_for_reader", "widget_script", "write_summary"]

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
                                   cwd=str(source.parent), progress_bar=progress, request_save_on_cell_execute=False,
                                   **interrupt_only_running_cells())
    return output


def interrupt_only_running_cells() -> dict:
    """Papermill options under which a kernel is shut down without an interrupt when no cell runs.

    jupyter_client interrupts (SIGINT) every kernel before shutting it down, to stop a cell that still
    runs. After the last cell, papermill asks the kernel for its kernel_info and shuts it down as soon as
    the reply comes, often while the kernel is still in that request's handler, where SIGINT raises: the
    kernel then logs "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel." after a good run. So the
    interrupt is sent only while a cell runs (Ctrl-C, a timeout), and an idle kernel gets the plain
    shutdown request."""
    from jupyter_client.manager import AsyncKernelManager

    cell_running = threading.Event()

    class KernelManager(AsyncKernelManager):
        async def _async_interrupt_kernel(self) -> None:
            if getattr(self, "shutting_down", False) and not cell_running.is_set():
                return
            await super()._async_interrupt_kernel()

    return {"kernel_manager_class": KernelManager,
            "on_cell_execute": lambda **cell: cell_running.set(),  # nbclient's hooks: sent, and its reply received
            "on_cell_executed": lambda **cell: cell_running.clear()}


# Cell tags that already decide how a cell shows in the book (myst-nb's, and "show-input" to keep
# a code cell open); a cell carrying one keeps it.
_SHOWN_AS = {"remove-cell", "remove-input", "hide-cell", "hide-input", "show-input"}


def tag_for_reader(notebook: Path) -> None:
    """Tag an executed notebook's code cells for the book, in place: the `parameters` cell and
    Papermill's `injected-parameters` cell are removed from the page, every other code cell's
    input is collapsed (one click opens it), or removed when the cell shows nothing (a bar that opens onto
    code with nothing under it, e.g. the imports, is in a reader's way); markdown and outputs stay. The
    .ipynb keeps every cell."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if {"parameters", "injected-parameters"} & set(tags):
            tags.append("remove-cell")
        elif not _SHOWN_AS & set(tags):
            tags.append("hide-input" if cell.get("outputs") else "remove-input")
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


SUMMARY = "summary.md"  # in book/executed/: the landing page's "what this book found", included by book/intro.md


def write_summary(executed: Path) -> Path:
    """Write the landing page's summary of this build's verdicts (`claims.book_summary_html`, from the
    verdicts the pages recorded) as raw HTML in a MyST file that book/intro.md includes."""
    from .claims import book_summary_html, load_verdicts, sentence_rows

    path = executed / SUMMARY
    path.write_text(book_summary_html(sentence_rows(load_verdicts(executed / "verdicts"))) + "\n", encoding="utf-8")
    return path


def book_runs(settings: Settings, clip: LoadedCLIP) -> list[RunSpec]:
    """Every run the book's pages read (`pages.runs`: the union of each page module's declared runs), so that the
    build trains them together (one plan of groups, both cores busy) before the pages read them; a run a page
    reads and does not declare, the page trains itself (`build_book` says how many)."""
    # imported here: the page modules import the figures (and their matplotlib settings), which the build
    # itself never needs
    from .pages import runs

    return runs(settings, clip)


def build_book(parameters: dict | None = None, html: bool = True, progress: bool = True) -> Path:
    """Train the book's runs (`book_runs`), execute all notebooks into book/executed/ and build the HTML;
    returns the HTML folder.

    With the runs in the cache, the pages only read them, so on a CPU they execute two at a time
    (`Settings.processes` at once, each kernel with one thread: two threads of small operations on
    two busy cores wait on each other far longer than they compute); the claims ledger comes last."""
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

    settings = from_parameters(parameters or {})  # a bad parameter stops the build here, before any page
    clip = settings.load_model()
    started = time.perf_counter()
    print("training the book's runs ...", flush=True)
    results(book_runs(settings, clip), clip, settings, progress=progress)  # a failed run is its page's to show
    from .pages import bias  # as in book_runs

    for variant, specs in bias.recipe_runs(settings, clip):  # page 6's recipe variants, after the runs they are chosen by
        results(specs, clip, variant, progress=progress)
    print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    runs_folder = cache_root(settings.cache) / "runs"
    listed = set(runs_folder.iterdir()) if runs_folder.is_dir() else set()

    *pages, ledger = notebook_sources(root)
    lanes = settings.processes if settings.device == "cpu" else 1

    def execute(source: Path) -> None:
        started = time.perf_counter()
        # a page without a parameters cell (the ledger) takes none: Papermill would warn about each
        takes = '# %% tags=["parameters"]' in source.read_text()
        tag_for_reader(execute_notebook(source, executed / f"{source.stem}.ipynb", parameters if takes else None,
                                        progress=progress and lanes == 1))
        print(f"executed {source.name} in {time.perf_counter() - started:.0f} s", flush=True)

    threads = os.environ.get("OMP_NUM_THREADS")
    if lanes > 1:
        os.environ["OMP_NUM_THREADS"] = "1"  # read by each kernel's torch when it starts
    try:
        with ThreadPoolExecutor(lanes) as pool:
            list(pool.map(execute, pages))  # the first failure is raised here
    finally:
        if lanes > 1:
            os.environ.pop("OMP_NUM_THREADS") if threads is None else os.environ.update(OMP_NUM_THREADS=threads)
    execute(ledger)
    write_summary(executed)
    unlisted = set(runs_folder.iterdir()) - listed if runs_folder.is_dir() else set()
    if unlisted:
        print(f"note: the pages trained {len(unlisted)} runs that `book_runs` does not list (they trained one page "
              "at a time)", flush=True)
    if not html:
        return executed
    subprocess.run([sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(root),
                    "--warningiserror", "--keep-going", "--quiet"], check=True, cwd=root)
    return root / "_build" / "html"
