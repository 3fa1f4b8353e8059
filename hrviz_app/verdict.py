"""A run's verdict (:func:`hrviz.verdict.verdict`, stored in its summary) on a page: one box per
finding, green where it went well, amber where it did not, the numbers in the sentence."""

from __future__ import annotations

import streamlit as st


def show_verdict(summary: dict | None) -> None:
    """The findings of a finished run's ``summary``; nothing for runs stored before verdicts."""
    for f in (summary or {}).get("verdict", []):
        (st.success if f["level"] == "ok" else st.warning)(f["text"], icon=":material/gavel:")
