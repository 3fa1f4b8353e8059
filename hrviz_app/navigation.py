"""The app's pages, listed explicitly (no scanning of ``pages/``): file, title, icon, URL.
``app.py`` builds its ``st.navigation`` from :data:`PAGES`; Home links to them."""

from __future__ import annotations

from typing import NamedTuple


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


def page(url: str) -> PageSpec:
    """The page with URL path ``url`` (e.g. ``"query"``)."""
    for spec in PAGES:
        if spec.url == url:
            return spec
    raise KeyError(url)
