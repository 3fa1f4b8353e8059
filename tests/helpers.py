"""Helpers shared by the tests (and bench/first_load.py): a real ``streamlit run app.py`` server,
and a watch on the navigation a browser renders. Fixtures stay in conftest.py; these are plain
functions, imported by name (``from helpers import start_streamlit``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    """Poll ``url`` until it answers 200; raise if ``proc`` exits or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{url} not healthy after {timeout:.0f} s")


@contextmanager
def start_streamlit(db: Path, log_path: Path, timeout: float = 60):
    """A new ``streamlit run app.py`` process on the store ``db``, started as ``make run`` does
    (cwd = the repository root, so ``.streamlit/config.toml`` applies); yields its base URL once
    ``/_stcore/health`` answers, and stops it on exit."""
    port = free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
             "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env={**os.environ, "HRVIZ_DB": str(db)}, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", proc, timeout)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# Add with page.add_init_script before the first goto: from the first DOM node on, remembers
# whether Streamlit's own sidebar navigation (stSidebarNav: the pages-directory mode draws it)
# ever appeared, and the label of every navigation entry ever rendered (sidebar or top
# navigation, page links), in order of appearance. Read it with seen_navigation(page).
NAV_WATCH = r"""
window.__hrvizNav = {sidebarNav: false, entries: []};
const seen = new Set();
const label = (el) => {  // the link's text without its icon (material icons render as words)
  const c = el.cloneNode(true);
  c.querySelectorAll('[data-testid="stIconMaterial"], [data-testid="stIconEmoji"]').forEach(i => i.remove());
  return (c.textContent || '').replace(/\s+/g, ' ').trim();
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


def seen_navigation(page) -> dict:
    """What NAV_WATCH saw on ``page``: {"sidebarNav": bool, "entries": [label, ...]}."""
    return page.evaluate("window.__hrvizNav")
