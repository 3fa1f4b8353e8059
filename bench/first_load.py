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
its query parameters (and the Query inspector shows the node it names).

URLs: ``/`` and the deep link ``/query?run=4&node=r.0`` (run 4: the first demo run on
``tree:H=4,W=5`` of the seeded store). Writes ``bench/results/first_load.md``.
Usage: ``.venv/bin/python bench/first_load.py [--trials 3]``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/: app_response.seed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the root: tests.helpers, as the tests start it

from hrviz_app.navigation import PAGES
from tests.helpers import CHROMIUM, CHROMIUM_ARGS, IDLE, NAV_WATCH, seen_navigation, start_streamlit

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "first_load.md"
URLS = {"/": ("", "Hierarchical retrieval"), "deep link": ("query?run=4&node=r.0", "Query inspector")}  # (URL, h1 starts)


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
    seen = seen_navigation(pg)
    final = pg.url
    h1 = pg.locator("h1").first.inner_text().strip()
    node = parse_qs(urlparse(url).query).get("node", [None])[0]
    applied = node is None or pg.get_by_role("textbox", name="Search a node by name or label").input_value() == node
    side = pg.locator('[data-testid="stSidebar"]')
    app_ran = side.count() > 0 and "Active hierarchy" in side.inner_text()  # app.py's sidebar
    ctx.close()
    titles = {p.title for p in PAGES}
    foreign = [e for e in seen["entries"] if e not in titles]
    asked = parse_qs(urlparse(f"{base}/{url}").query)
    kept = all(parse_qs(urlparse(final).query).get(k) == v for k, v in asked.items())
    ok = not seen["sidebarNav"] and not foreign and h1.startswith(title) and kept and applied and app_ran \
        and urlparse(final).path.strip("/") == urlparse(f"/{url}").path.strip("/")
    return {"ok": ok, "seconds": seconds, "sidebar_nav": seen["sidebarNav"], "foreign": foreign,
            "entries": seen["entries"], "app_ran": app_ran, "final": final.removeprefix(base), "h1": h1, "params_kept": kept and applied}


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
                with start_streamlit(db, Path(tmp) / f"streamlit-{trial}.log", timeout=90) as base:
                    r = first_visit(browser, base, url, title)  # its first request, a new context
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
             "| trial | URL | ok | stSidebarNav ever | foreign entries | app.py's sidebar | final URL | params kept and applied | h1 | s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for trial, name, url, r in rows:
        lines.append(f"| {trial} | `/{url}` | {'yes' if r['ok'] else '**no**'} | {r['sidebar_nav']} | "
                     f"{', '.join(r['foreign']) or '-'} | {r['app_ran']} | `{r['final']}` | {r['params_kept']} | {r['h1']} | {r['seconds']:.1f} |")
    lines += ["", "Passed: " + ", ".join(f"{n} {k}/{args.trials}" for n, k in passed.items()) + ".",
              "", "Nav entries seen (last trial): " + ", ".join(rows[-1][3]["entries"]) + "."]
    old = args.out.read_text() if args.out.exists() else ""
    if "\n## Controls" in old:  # hand-run controls (see the section) stay below the new numbers
        lines += ["", old[old.index("\n## Controls") + 1:].rstrip()]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
