"""The app's pages, listed explicitly (no scanning of ``pages/``): file, title, icon, URL.
``app.py`` builds its ``st.navigation`` from :data:`PAGES` and draws :func:`nav_links`; Home
links to them.

Streamlit's legacy pages-directory mode must never show. With a ``pages/`` folder beside the
entry script, Streamlit (1.67) decides once per process, when the first session opens, that the
app "uses the pages directory" (``PagesManager.uses_pages_directory``), and until some run calls
``st.navigation`` each run is ``_mpa_v1``: a navigation of ``app`` plus the file names in
``pages/``, whose page for the URL runs alone. Two public means keep that from showing:

- ``.streamlit/config.toml`` sets ``client.showSidebarNavigation = false``: the legacy
  navigation is sent as hidden, and the front end draws no Streamlit navigation at all; the
  app's own navigation is :func:`nav_links` (``st.page_link`` in the sidebar, drawn by app.py);
- a fresh server's first request to a deep link (``/query?run=3&node=dog.n.01``) would still run
  the page file alone (no session defaults, no sidebar). Every page calls :func:`through_app`
  first: when ``app.py`` has not run in this session it remembers the page with its query
  parameters and switches to ``app.py`` (public ``st.switch_page``); app.py builds the
  navigation, which ends the legacy mode for the process, and opens the remembered page with
  its query parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import streamlit as st

APP_MARK = "_hrviz_app"  # set by app.py on every run, before the page runs
_WANTED = "_hrviz_wanted_page"


class PageSpec(NamedTuple):
    path: str  # relative to the app's folder
    title: str
    icon: str
    url: str


PAGES = (
    PageSpec("pages/0_home.py", "Home", ":material/home:", "home"),
    PageSpec("pages/1_hierarchy.py", "Hierarchy", ":material/account_tree:", "hierarchy"),
    PageSpec("pages/2_train.py", "Train", ":material/model_training:", "train"),
    PageSpec("pages/3_results.py", "Results", ":material/table_chart:", "results"),
    PageSpec("pages/4_query.py", "Query inspector", ":material/search:", "query"),
    PageSpec("pages/5_embeddings.py", "Embeddings", ":material/scatter_plot:", "embeddings"),
    PageSpec("pages/6_geometry.py", "Geometry", ":material/change_history:", "geometry"),
    PageSpec("pages/7_study.py", "Study", ":material/article:", "study"),
)


def through_app(page_file: str) -> None:
    """Make sure this run went through ``app.py`` (see the module docstring); a page's first call.

    page_file: str, the page's ``__file__``.
    """
    if st.session_state.get(APP_MARK):
        return
    name = Path(page_file).name
    url = next((p.url for p in PAGES if Path(p.path).name == name), None)
    st.session_state[_WANTED] = (url, st.query_params.to_dict())  # a deep link keeps its ?run=..&node=..
    st.switch_page("app.py")


def nav_links(pages) -> None:
    """The app's navigation: one ``st.page_link`` per page at the top of the sidebar, the open
    page highlighted. Streamlit's own navigation stays hidden (``client.showSidebarNavigation =
    false``, see the module docstring).

    pages: iterable of st.Page, the pages passed to ``st.navigation``, in order.
    """
    with st.sidebar:
        for p in pages:
            st.page_link(p)
        st.divider()


def wanted_page() -> tuple[str | None, dict[str, str]]:
    """The URL path and query parameters of the page :func:`through_app` was asked for, once;
    else (None, {})."""
    return st.session_state.pop(_WANTED, (None, {}))


def page(url: str) -> PageSpec:
    """The page with URL path ``url`` (e.g. ``"query"``)."""
    for spec in PAGES:
        if spec.url == url:
            return spec
    raise KeyError(url)
