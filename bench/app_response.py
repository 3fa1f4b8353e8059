"""How fast the app's pages answer, with and without a training run in the background.

Four measurements in one run:

0. **First start**: a fresh process on an empty store trains Home's story
   (:func:`hrviz.story.ensure_story`, what ``app.py``'s background job does once per store): wall
   time, and the runs' worst distance and overall recall, so the story is checked where it
   is timed.
0b. **First page on an empty store**: a fresh process runs ``app.py`` with AppTest (Home, the
   default page), then switches to the Hierarchy page; the time until each has rendered, and
   until the story's runs (full size) have finished in the background. ``--before-root DIR``
   measures an older checkout the same way (e.g. ``git archive COMMIT | tar -x -C DIR``), where
   a first start trained the story before any page rendered.
1. **Browser** (when ``/usr/bin/chromium`` exists): ``streamlit run app.py`` in a subprocess,
   Chromium (Playwright) opens each page in a fresh tab and we time ``goto`` until the script
   has finished (``data-test-script-state="notRunning"``) and the title is there. Then the Train
   page starts a long standard run on the demo tree (``tree:H=4,W=5``, d=3), and every page is
   timed again from another tab while it trains, then the run is stopped.
2. **AppTest**: ``streamlit.testing.v1.AppTest`` runs ``app.py`` and switches to each page in
   this process (script time only, no browser), idle and while :func:`hrviz.experiment.launch`
   trains in a thread of this process.

For 1 and 2 the store is a temporary file seeded with the story's runs (few steps) and the
small demo runs, so no page trains at start. Writes
``bench/results/app_response.md``. Times are medians of ``--repeats`` visits; nothing asserts
a time. Usage: ``.venv/bin/python bench/app_response.py [--repeats 3] [--no-browser]
[--first-start-only] [--before-root DIR]``; ``--first-start-only`` measures 0 and 0b and replaces
their sections of the last report.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

from hrviz_app.navigation import PAGES

ROOT = Path(__file__).resolve().parents[1]

OUT = ROOT / "bench" / "results" / "app_response.md"
CHROMIUM = "/usr/bin/chromium"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


FIRST_START = """
import json, sys, time
t0 = time.perf_counter()
from hrviz import story
from hrviz.store import Store
with Store(sys.argv[1]) as store:
    ids = story.ensure_story(store)
    runs = story.story_runs(store, chapters=getattr(story, "ALL_CHAPTERS", story.CHAPTERS))
print(json.dumps({"seconds": time.perf_counter() - t0,
                  "runs": {k: {"run_id": r["run_id"], "min": r["min"], "overall": r["overall"],
                               "seconds": r["seconds"]} for k, r in runs.items()}}))
"""


def first_start(folder: Path) -> dict:
    """Train the story on an empty store in a fresh interpreter (imports included), as a first
    start of the app does; returns seconds and the runs' numbers."""
    import json

    db = folder / "first" / "hrviz.duckdb"
    db.parent.mkdir()
    load = os.getloadavg()[0]
    out = subprocess.run([sys.executable, "-c", FIRST_START, str(db)], check=True, capture_output=True,
                         text=True, cwd=ROOT)
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "load_before": load}


FIRST_PAGE = """
import json, os, sys, time
t0 = time.perf_counter()
os.environ["HRVIZ_DB"] = sys.argv[1]
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(os.path.join(os.getcwd(), "app.py"), default_timeout=300).run()
home = time.perf_counter() - t0
assert not at.exception, at.exception
at.switch_page("pages/1_hierarchy.py").run()
hierarchy = time.perf_counter() - t0
assert not at.exception and at.title[0].value == "Hierarchy", at.exception
from hrviz import story
from hrviz_app.resources import get_store
try:
    from hrviz_app.story import story_job  # the story trains in the background
except ImportError:  # an older checkout: it trained before the first page
    story_job = lambda: None
job = story_job()
if job is not None:
    job.wait()
print(json.dumps({"home": home, "hierarchy": hierarchy, "story_done": time.perf_counter() - t0,
                  "story_runs": len(story.story_runs(get_store(), chapters=getattr(story, "ALL_CHAPTERS", story.CHAPTERS))),
                  "background": job is not None}))
"""


def first_page(folder: Path, root: Path = ROOT, tag: str = "now") -> dict:
    """Time a fresh process (imports included) on an empty store until Home, then the Hierarchy
    page, have rendered (AppTest), and until the story's runs are done; ``root``: the checkout."""
    import json

    db = folder / f"first-page-{tag}" / "hrviz.duckdb"
    db.parent.mkdir()
    load = os.getloadavg()[0]
    out = subprocess.run([sys.executable, "-c", FIRST_PAGE, str(db)], check=True, capture_output=True,
                         text=True, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "load_before": load}


def first_page_lines(fp: dict, before: dict | None = None) -> list[str]:
    lines = ["## First start: time until a page renders on an empty store", "",
             "A fresh interpreter (imports included) runs `app.py` with AppTest on an empty store "
             "(Home, the default page), then switches to the Hierarchy page; then waits for the "
             "story's runs (full size). Seconds from the start of the process.", "",
             "| checkout | Home rendered | Hierarchy rendered | story runs done | load before |",
             "|---|---:|---:|---:|---:|"]
    for label, r in (("before: the story trained before any page", before), ("now: the story trains in the background", fp)):
        if r is not None:
            lines.append(f"| {label} | {r['home']:.1f} | {r['hierarchy']:.1f} | {r['story_done']:.1f} "
                         f"| {r['load_before']:.1f} |")
    return lines + [""]


def first_start_lines(fs: dict) -> list[str]:
    lines = ["## First start: Home's story trained on an empty store", "",
             f"Fresh interpreter, imports included: **{fs['seconds']:.1f} s** "
             f"(target: within 30 s on 2 cores; 1-minute load average before the run: "
             f"{fs.get('load_before', float('nan')):.1f}"
             + (", so other work shared the cores)." if fs.get("load_before", 0) > 0.5 else ")."), "",
             "| chapter | run | worst distance | overall | run seconds |", "|---|---:|---:|---:|---:|"]
    for key, r in fs["runs"].items():
        lines.append(f"| {key} | #{r['run_id']} | {r['min']:.1%} | {r['overall']:.1%} | {r['seconds']:.1f} |")
    return lines + [""]


def write_first_start_section(section_lines: list[str], lines: list[str]) -> None:
    """Put the first-start sections into the existing report, in place of the old ones (before
    the other sections); a new report when there is none."""
    old = OUT.read_text() if OUT.exists() else ""
    if "## " not in old:
        OUT.write_text("\n".join(lines))
    else:
        head, *parts = old.split("\n## ")
        kept = [part for part in parts if not part.startswith("First start")]
        OUT.write_text("\n## ".join([head.rstrip("\n") + "\n\n" + "\n".join(section_lines).rstrip("\n") + "\n", *kept]))
    print(f"wrote {OUT}")


def seed(db: Path) -> None:
    from hrviz import story
    from hrviz.experiment import DEMO_RECIPES, DEMO_SOURCE, run_training
    from hrviz.sources import load_source
    from hrviz.store import Store
    from hrviz.training import TrainConfig

    with Store(db) as store:
        for ch in story.ALL_CHAPTERS:  # the story's settings with few steps: Home does not train
            cfg = replace(story.config(ch), steps=30, finetune_steps=30, batch_size=64)
            run_training(ch.source, cfg, store, hierarchy=load_source(ch.source), name=story.NAME)
        for recipe in DEMO_RECIPES:
            cfg = TrainConfig(dim=3, recipe=recipe, steps=200, finetune_steps=100, eval_every=25)
            run_training(DEMO_SOURCE, cfg, store, name="demo")


def pages() -> list[tuple[str, str]]:
    """(title, url path) of every page present."""
    return [(p.title, "" if i == 0 else p.url) for i, p in enumerate(PAGES)]


# ----------------------------------------------------------------------------- browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser_times(db: Path, repeats: int) -> dict[str, dict[str, list[float]]]:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    log = open(db.parent / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env={**os.environ, "HRVIZ_DB": str(db)}, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    times: dict[str, dict[str, list[float]]] = {"idle": {}, "training": {}}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/_stcore/health", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("streamlit did not start; see " + log.name)
                time.sleep(0.25)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])

            def visit(url: str) -> float:
                ctx = b.new_context(viewport={"width": 1400, "height": 1000})
                pg = ctx.new_page()
                t0 = time.perf_counter()
                pg.goto(f"{base}/{url}")
                pg.wait_for_selector(IDLE, timeout=120_000)
                pg.wait_for_selector("h1", timeout=60_000)
                dt = time.perf_counter() - t0
                ctx.close()
                return dt

            visit("")  # warm-up: first session, caches, imports
            for phase in ("idle", "training"):
                trainer = None
                if phase == "training":
                    trainer = b.new_context().new_page()
                    trainer.goto(f"{base}/train")
                    trainer.wait_for_selector(IDLE, timeout=120_000)
                    trainer.get_by_text("Pretrain-finetune", exact=True).click()
                    trainer.wait_for_timeout(500)
                    trainer.wait_for_selector(IDLE, timeout=60_000)
                    box = trainer.get_by_role("spinbutton", name="Steps (pretrain / main stage)", exact=True)
                    box.fill("100000")
                    box.press("Enter")
                    trainer.wait_for_timeout(500)
                    trainer.wait_for_selector(IDLE, timeout=60_000)
                    trainer.get_by_role("button", name="Start training").click()
                    trainer.wait_for_selector('[data-testid="stProgress"]:has-text("running")', timeout=60_000)
                    trainer.wait_for_timeout(2000)
                for title, url in pages():
                    times[phase][title] = [visit(url) for _ in range(repeats)]
                if trainer is not None:
                    trainer.get_by_role("button", name="Stop").click()
                    trainer.wait_for_selector('[data-testid="stProgress"]:has-text("stopped")', timeout=120_000)
                    trainer.close()
            b.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    return times


# ----------------------------------------------------------------------------- AppTest


def apptest_times(db: Path, repeats: int) -> dict[str, dict[str, list[float]]]:
    os.environ["HRVIZ_DB"] = str(db)
    from streamlit.testing.v1 import AppTest

    from hrviz.experiment import launch
    from hrviz.sources import load_source
    from hrviz.training import TrainConfig
    from hrviz_app.resources import get_store

    def run_page(url: str, path: str | None) -> float:
        t0 = time.perf_counter()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        if path:
            at.switch_page(path).run()
        dt = time.perf_counter() - t0
        if at.exception:
            raise RuntimeError(f"{path}: {at.exception[0].message}")
        return dt

    files = {p.title: (None if i == 0 else p.path) for i, p in enumerate(PAGES)}
    run_page("", None)  # warm-up
    times: dict[str, dict[str, list[float]]] = {"idle": {}, "training": {}}
    for phase in ("idle", "training"):
        stop = threading.Event()
        thread = None
        if phase == "training":
            h = load_source("tree:H=4,W=5")
            _, thread = launch("tree:H=4,W=5", TrainConfig(dim=3, recipe="standard", steps=100_000),
                               get_store(), hierarchy=h, stop=stop)
            time.sleep(2)
        for title, path in files.items():
            times[phase][title] = [run_page("", path) for _ in range(repeats)]
        if thread is not None:
            stop.set()
            thread.join()
    return times


# ----------------------------------------------------------------------------- report


def table(times: dict[str, dict[str, list[float]]]) -> list[str]:
    rows = ["| page | idle (s) | while training (s) | ratio |", "|---|---:|---:|---:|"]
    for title in times["idle"]:
        idle = statistics.median(times["idle"][title])
        busy = statistics.median(times["training"][title])
        rows.append(f"| {title} | {idle:.2f} | {busy:.2f} | {busy / idle:.2f}x |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--first-start-only", action="store_true", help="only the first-start measurements")
    ap.add_argument("--before-root", type=Path, default=None,
                    help="an older checkout to time the first page of too (the 'before' row)")
    args = ap.parse_args()
    lines = ["# App response times", "",
             f"`python bench/app_response.py --repeats {args.repeats}` on {platform.machine()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}; medians of "
             f"{args.repeats} visits per page. \"While training\": a standard run on tree:H=4,W=5 "
             "(d=3, full softmax) trains in a background thread of the same process.", ""]
    with tempfile.TemporaryDirectory() as folder:
        fs = first_start(Path(folder))
        before = first_page(Path(folder), args.before_root, "before") if args.before_root else None
        fp = first_page(Path(folder))
        sections = first_start_lines(fs) + first_page_lines(fp, before)
        lines += sections
        print("\n".join(sections))
        if args.first_start_only:  # replace those sections of the last full report, keep the rest
            write_first_start_section(sections, lines)
            return
        if not args.no_browser and os.path.exists(CHROMIUM):
            db = Path(folder) / "browser" / "hrviz.duckdb"
            db.parent.mkdir()
            seed(db)
            t = browser_times(db, args.repeats)
            lines += ["## Browser (Chromium, from `goto` to the script finished)", "", *table(t), ""]
            print("\n".join(table(t)))
        db = Path(folder) / "apptest" / "hrviz.duckdb"
        db.parent.mkdir()
        seed(db)
        t = apptest_times(db, args.repeats)
        lines += ["## AppTest (app.py + page script in-process, no browser)", "", *table(t), ""]
        print("\n".join(table(t)))
    lines += ["Notes: the first visit of a process (imports, caches, the demo) is a warm-up and "
              "not counted. Pages read the store through one DuckDB connection with a cursor per "
              "thread; training writes a few rows per evaluation, so page reads rarely wait on it. "
              "The slowdown while training is the CPU shared with the training thread (2 cores "
              "here), not locking.", ""]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
