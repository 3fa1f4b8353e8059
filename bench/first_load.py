"""What a fresh server's very first request shows: the app's own pages, or Streamlit's legacy
pages-directory navigation (an ``app`` entry and the files of ``pages/``)?

Each trial starts ``streamlit run app.py`` in a new process (cwd = the repository root, as
``make run`` and the browser tests do), opens one URL in a new Chromium context (Playwright,
Debian's ``/usr/bin/chromium``) and records, from the first DOM node on (a ``MutationObserver``
injected before any page script), every navigation entry the browser ever rendered: Streamlit's
sidebar navigation (``stSidebarNav``), its top navigation (``stTopNav``) and page links
(``stPageLink``). A trial passes when every entry ever rendered is one of the app's page titles
(:data:`hrviz_app.navigation.PAGES`), Streamlit's sidebar navigation never appeared, the page
that opened is the one asked for, under ``app.py`` (its sidebar is there), and a deep link kept
its query parameters.

URLs: ``/`` and the deep link ``/query?run=4&node=r.0`` (run 4: the first demo run on
``tree:H=4,W=5`` of the seeded store). Writes ``bench/results/first_load.md``.
Usage: ``.venv/bin/python bench/first_load.py [--trials 3]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/: app_response.seed

from hrviz_app.navigation import PAGES

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "first_load.md"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
URLS = {"/": ("", "Hierarchical retrieval"), "deep link": ("query?run=4&node=r.0", "Query inspector")}  # (URL, h1 starts)

# Runs before the page's own scripts: remembers every navigation entry ever rendered.
NAV_WATCH = """
window.__hrvizNav = {sidebarNav: false, entries: []};
const seen = new Set();
const label = (el) => {  // the link's text without its icon (material icons render as words)
  const c = el.cloneNode(true);
  c.querySelectorAll('[data-testid="stIconMaterial"], [data-testid="stIconEmoji"]').forEach(i => i.remove());
  return (c.textContent || '').replace(/\\s+/g, ' ').trim();
};
const note = () => {
  const w = window.__hrvizNav;
  if (document.querySelector('[data-testid="stSidebarNav"]')) w.sidebarNav = true;
  for (const el of document.querySelectorAll('[data-testid="stSidebarNavLink"], ' +
      '[data-testid="stTopNavLink"], [data-testid="stPageLink-NavLink"]')) {
    const t = label(el);
    if (t && !seen.has(t)) { seen.add(t); w.entries.push(t); }
  }
};
new MutationObserver(note).observe(document, {subtree: true, childList: true, characterData: true});
"""


def start_server(db: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``streamlit run app.py`` as the tests start it; (process, base URL) once healthy."""
    from app_response import _free_port

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env={**os.environ, "HRVIZ_DB": str(db)}, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/_stcore/health", timeout=2)
            return proc, base
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"streamlit did not start; see {log}")
            time.sleep(0.25)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def first_visit(browser, base: str, url: str, title: str) -> dict:
    """Open ``url`` in a new context; what the browser rendered until the page is idle."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.add_init_script(NAV_WATCH)
    t0 = time.perf_counter()
    pg.goto(f"{base}/{url}")
    pg.wait_for_selector(f'h1:has-text("{title}")', timeout=120_000)
    pg.wait_for_selector(IDLE, timeout=120_000)
    pg.wait_for_timeout(1000)  # late navigation messages, if any
    seconds = time.perf_counter() - t0
    seen = pg.evaluate("window.__hrvizNav")
    final = pg.url
    h1 = pg.locator("h1").first.inner_text().strip()
    side = pg.locator('[data-testid="stSidebar"]')
    app_ran = side.count() > 0 and "Active hierarchy" in side.inner_text()  # app.py's sidebar
    ctx.close()
    titles = {p.title for p in PAGES}
    foreign = [e for e in seen["entries"] if e not in titles]
    asked = parse_qs(urlparse(f"{base}/{url}").query)
    kept = all(parse_qs(urlparse(final).query).get(k) == v for k, v in asked.items())
    ok = not seen["sidebarNav"] and not foreign and h1.startswith(title) and kept and app_ran \
        and urlparse(final).path.strip("/") == urlparse(f"/{url}").path.strip("/")
    return {"ok": ok, "seconds": seconds, "sidebar_nav": seen["sidebarNav"], "foreign": foreign,
            "entries": seen["entries"], "app_ran": app_ran, "final": final.removeprefix(base), "h1": h1, "params_kept": kept}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from app_response import seed

    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        db = Path(tmp) / "hrviz.duckdb"
        seed(db)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for trial in range(1, args.trials + 1):
            for name, (url, title) in URLS.items():
                proc, base = start_server(db, Path(tmp) / f"streamlit-{trial}.log")
                try:  # the server's first request, from a browser that never saw the app
                    r = first_visit(browser, base, url, title)
                finally:
                    stop(proc)
                rows.append((trial, name, url, r))
                print(trial, name, r, flush=True)
        browser.close()

    passed = {n: sum(r["ok"] for _, name, _, r in rows if name == n) for n in URLS}
    lines = ["# First request of a fresh server: only the app's pages", "",
             f"`python bench/first_load.py --trials {args.trials}`, {time.strftime('%Y-%m-%d %H:%M')}, "
             f"{platform.node()}, Chromium `{CHROMIUM}`. Each row: a new `streamlit run app.py` process "
             "(cwd = the repository root) and its very first request, from a new browser context. "
             "\"Nav entries\": every navigation entry the browser rendered from the first DOM node on "
             "(a MutationObserver); \"foreign\": entries that are not one of the app's page titles "
             "(Streamlit's pages-directory mode shows `app` and file names such as `home`); \"app.py's "
             "sidebar\": the page ran under app.py (its sidebar shows the active hierarchy).", "",
             "| trial | URL | ok | stSidebarNav ever | foreign entries | app.py's sidebar | final URL | h1 | s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for trial, name, url, r in rows:
        lines.append(f"| {trial} | `/{url}` | {'yes' if r['ok'] else '**no**'} | {r['sidebar_nav']} | "
                     f"{', '.join(r['foreign']) or '-'} | {r['app_ran']} | `{r['final']}` | {r['h1']} | {r['seconds']:.1f} |")
    lines += ["", "Passed: " + ", ".join(f"{n} {k}/{args.trials}" for n, k in passed.items()) + ".",
              "", "Nav entries seen (last trial): " + ", ".join(rows[-1][3]["entries"]) + "."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
