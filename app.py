"""hrviz: the Streamlit app. Run with ``streamlit run app.py`` (or ``make run``).

Builds the navigation from the page files present in ``pages/`` (``N_name.py``, in numeric
order), sets the session defaults, opens the results store (``$HRVIZ_DB`` or
``results/hrviz.duckdb``), marks runs left ``running`` by a dead process as failed, fills an
empty store with the small synthetic experiment (a few seconds) and shows the active hierarchy
and run in the sidebar.
"""

import sys
from pathlib import Path

import streamlit as st

APP_DIR = Path(__file__).resolve().parent
if str(APP_DIR) not in sys.path:  # `streamlit run` adds it; AppTest and other runners may not
    sys.path.insert(0, str(APP_DIR))

from hrviz.errors import InputError  # noqa: E402
from hrviz_app.common import (  # noqa: E402
    db_path, ensure_demo_runs, get_store, init_session, page_files, page_info, sidebar,
)

st.set_page_config(page_title="hrviz", page_icon=":material/account_tree:", layout="wide")

pages = []
for number, stem, path in page_files():
    title, icon, url = page_info(stem)
    pages.append(st.Page(str(path), title=title, icon=icon, url_path=url, default=number == 0))
nav = st.navigation(pages)

try:
    get_store()  # opens the store and fails stale runs, once per process
except InputError as err:  # e.g. another process (a CLI run) holds the DuckDB file
    st.error(f"Cannot open the results store `{db_path()}`: {err}")
    st.stop()
with st.spinner("First start: training the small demo experiment (a few seconds)..."):
    ensure_demo_runs()  # cached: trains only when the store is empty, once per process
init_session()

try:
    nav.run()
finally:
    sidebar()  # after the page, so it shows what the page just changed
