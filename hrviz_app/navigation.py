"""The app's pages, listed explicitly (no scanning of ``pages/``): file, title, icon, URL.
``app.py`` builds its ``st.navigation`` from :data:`PAGES`; Home links to them.

:func:`through_app` keeps Streamlit's legacy pages-directory mode from showing. With a
``pages/`` folder beside the entry script, Streamlit runs the old multipage mode until some run
calls ``st.navigation``; on a fresh server a deep link (``/train``) as the very first request
then runs the page file alone, under a navigation of file names (``app``, ``home``, ...). Every
page calls :func:`through_app` first: when ``app.py`` has not run in this session it remembers
the page and switches to ``app.py`` (public ``st.switch_page``); app.py builds the navigation,
which ends the legacy mode for the process, and opens the remembered page with its query
parameters (a first-request deep link such as ``/query?run=3&node=dog.n.01`` keeps them).
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
