"""hrviz: the Streamlit app. Run with ``streamlit run app.py`` (or ``make run``).

The entry point: it lists the pages (``hrviz_app.navigation.PAGES``, one ``st.Page`` each) and
draws their links at the top of the sidebar (Streamlit's own navigation stays hidden:
``client.showSidebarNavigation = false`` in ``.streamlit/config.toml``), sets the session
defaults, opens the results store (``$HRVIZ_DB`` or ``results/hrviz.duckdb``), starts training
the three runs of Home's story in the background where the store lacks them (a first start:
about 20 s, while every page already works; Home shows the progress) and shows the active
hierarchy and run in the sidebar. Pages only draw.

Session state keys the pages read:

- ``source``: the active hierarchy's SOURCE string (default ``tree:H=4,W=5``);
- ``run_id``: the active run (int) or None: a run of the active hierarchy (the newest finished
  one to start with); ``hrviz_app.active`` changes the two together;
- ``max_distance``: the distance cap chosen on the Hierarchy page (None = no cap).
"""

import streamlit as st

from hrviz.errors import InputError
from hrviz_app.active import newest_run_on
from hrviz_app.navigation import APP_MARK, PAGES, nav_links, wanted_page
from hrviz_app.paths import db_path
from hrviz_app.resources import DEFAULT_SOURCE, get_store
from hrviz_app.sidebar import sidebar
from hrviz_app.story import start_first_story

st.set_page_config(page_title="hrviz", page_icon=":material/account_tree:", layout="wide")

pages = {p.url: st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url, default=i == 0)
         for i, p in enumerate(PAGES)}
# position="hidden": the sidebar's links are ours (nav_links); .streamlit/config.toml hides every
# navigation Streamlit draws itself, the pages-directory one of a fresh server's first request too
nav = st.navigation(list(pages.values()), position="hidden")
st.session_state[APP_MARK] = True  # the pages check it (hrviz_app.navigation.through_app)
wanted, params = wanted_page()
if wanted in pages:  # a first request that landed on a page file alone
    st.switch_page(pages[wanted], query_params=params or None)
nav_links(pages.values())  # the top of the sidebar, before the page draws

try:
    store = get_store()  # opens the store and fails stale runs, once per process
except InputError as err:  # e.g. another process (a CLI run) holds the DuckDB file
    st.error(f"Cannot open the results store `{db_path()}`: {err}")
    st.stop()
start_first_story()  # in the background, once per process and store: only the runs the store lacks

# ----- session defaults: the small synthetic tree, and the newest finished run on it as the active run
st.session_state.setdefault("source", DEFAULT_SOURCE)
st.session_state.setdefault("max_distance", None)
if "run_id" not in st.session_state:  # a run of the active hierarchy (hrviz_app.active), or none
    st.session_state["run_id"] = newest_run_on(st.session_state["source"])

try:
    nav.run()
finally:
    sidebar()  # after the page, so it shows what the page just changed
