"""A Sphinx extension for the book's HTML pages (`_config.yml` lists it): what Jupyter Book 1 puts
into every page, made to run without errors in the browser.

- MathJax on every page, not only those with equations in their Markdown: the ledger and the verdicts
  quote the paper's words with their TeX (\\(x_i\\)), which would otherwise show as raw TeX.
- sphinx-thebe and sphinx-togglebutton register their inline scripts twice under Jupyter Book 1;
  a second `const THEBE_JS_URL` is a SyntaxError on every page. Each script is kept once.
- The ipywidgets controls typeset their labels with MathJax 2's `MathJax.Hub.Queue`; the book
  serves MathJax 3, which has no `Hub`, so every page with a labelled control threw a TypeError.
  A small script gives whatever object becomes `window.MathJax` a `Hub.Queue` that calls
  MathJax 3's `typesetPromise`.
"""
from __future__ import annotations

__all__ = ["MATHJAX2_SHIM", "setup", "unique_scripts"]

MATHJAX2_SHIM = """(() => {
  const hub = {Queue: (job) => {
    const element = Array.isArray(job) ? job[2] : undefined;
    if (element && window.MathJax && window.MathJax.typesetPromise) window.MathJax.typesetPromise([element]);
  }};
  const withHub = (value) => {
    if (value && typeof value === "object" && !("Hub" in value)) Object.defineProperty(value, "Hub", {value: hub});
    return value;
  };
  let current = withHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {configurable: true, get: () => current, set: (value) => { current = withHub(value); }});
})();"""


def unique_scripts(scripts: list) -> list:
    """The page's scripts in order, each (file, priority and attributes, an inline body included) once.
    An inline script's file is None or "" depending on who added it: both count as no file."""
    seen, kept = set(), []
    for script in scripts:
        key = (str(getattr(script, "filename", script) or ""), getattr(script, "priority", 500),
               tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    return kept


def _page_context(app, pagename, templatename, context, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = unique_scripts(context["script_files"])


def setup(app) -> dict:
    # before every other script: the shim must be in place when the MathJax configuration is assigned
    app.add_js_file(None, body=MATHJAX2_SHIM, priority=0)
    app.connect("html-page-context", _page_context, priority=900)  # after the handlers that add scripts
    app.set_html_assets_policy("always")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
