"""`pytest --nbmake notebooks`: nbmake collects only .ipynb files, so the Jupytext sources are
converted next to themselves (git-ignored) before collection. Each runs in its default profile."""
from pathlib import Path

import jupytext
import nbformat

for source in sorted(Path(__file__).parent.glob("[0-9][0-9]_*.py")):
    target = source.with_suffix(".ipynb")
    if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
        nbformat.write(jupytext.read(source), target)
