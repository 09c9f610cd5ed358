/* The book's own script (book/style, listed in _config.yml). Under every table region that is wider than its
   column it shows a line saying that the table scrolls sideways, only where the region overflows: on a
   phone the scroll bar is overlaid and a shadow at the edge is easily missed. Kept in step when the window
   changes width and when the widgets render (they add to the page after it has loaded). */
(() => {
  const REGIONS = ".mmp-scroll, .pst-scrollable-table-container";
  const mark = () => {
    for (const region of document.querySelectorAll(REGIONS)) {
      const next = region.nextElementSibling;
      let hint = next && next.classList.contains("mmp-scroll-hint") ? next : null;
      const overflows = region.scrollWidth > region.clientWidth + 1;
      if (overflows && !hint) {
        hint = document.createElement("div");
        hint.className = "mmp-scroll-hint";
        hint.textContent = "Scroll the table sideways \u2192";
        region.after(hint);
      }
      if (hint) hint.hidden = !overflows;
    }
  };
  let queued = false;
  const soon = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; mark(); });
  };
  document.addEventListener("DOMContentLoaded", mark);
  window.addEventListener("load", mark);
  window.addEventListener("resize", soon);
  new ResizeObserver(soon).observe(document.documentElement);
})();
