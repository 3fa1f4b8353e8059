"""The Train page's model choice and each model kind's own settings, drawn from the kind registry
(:data:`hrviz.kinds.KINDS`): a kind added there shows here without a line of app code.

:func:`model_choice` is the "Model" radio over the kinds that train (``key t_kind``, one option
per kind's name, shown by its title). :func:`kind_settings` draws a kind's
:class:`~hrviz.kinds.base.Setting` list as widgets (``key t_KIND_SETTING``; a setting whose first
value depends on the hierarchy keys its widget by the hierarchy too), hands their values to
:meth:`~hrviz.kinds.base.ModelKind.config` and shows the config's plan, or the error.
"""

from __future__ import annotations

import streamlit as st

from hrviz.errors import InputError
from hrviz.hierarchy import Hierarchy
from hrviz.kinds import DEFAULT, ModelKind, Setting, trainable

COLUMNS = 3  # settings per row


def model_choice() -> ModelKind:
    """The "Model" radio (key ``t_kind``) over the kinds that train; the chosen kind."""
    kinds = {k.name: k for k in trainable()}
    name = st.radio("Model", list(kinds), horizontal=True, key="t_kind",
                    index=list(kinds).index(DEFAULT.name), format_func=lambda n: kinds[n].title,
                    help="; ".join(f"{k.title}: {k.summary}" for k in kinds.values()))
    return kinds[name]


def widget_key(kind: ModelKind, s: Setting, h: Hierarchy) -> str:
    """``t_KIND_NAME`` (``-`` as ``_``), with the hierarchy's hash where the first value depends on it."""
    key = f"t_{kind.name}_{s.name}".replace("-", "_")
    return f"{key}_{h.hash}" if callable(s.start) else key


def setting_widget(s: Setting, key: str, h: Hierarchy, values: dict):
    """One setting's widget (a toggle, select box, slider or number box) and its value."""
    first = s.first_value(h)
    off = bool(s.off_when and values.get(s.off_when))
    if s.type is bool:
        return st.toggle(s.label, value=bool(first), key=key, help=s.help)
    if s.choices:
        options = list(s.choices.values())
        labels = {v: label for label, v in s.choices.items()}
        return st.selectbox(s.label, options, index=options.index(first) if first in options else 0, key=key,
                            format_func=lambda v: labels.get(v, v), help=s.help, disabled=off)
    if s.slider:
        return st.slider(s.label, s.type(s.low), s.type(s.high), s.type(first), s.type(s.step or 1), key=key,
                         help=s.help, disabled=off)
    bounds = {"min_value": None if s.low is None else s.type(s.low),
              "max_value": None if s.high is None else s.type(s.high)}
    value = st.number_input(s.label, value=None if first is None else s.type(first), key=key, help=s.help,
                            disabled=off, **bounds)
    return None if value is None else s.type(value)


def kind_settings(kind: ModelKind, h: Hierarchy, train=None):
    """The kind's own settings in rows of :data:`COLUMNS`, around ``train`` (the page's
    TrainConfig when the kind ``uses_training``; None where those settings are not valid: their
    error is shown there). Returns the kind's config, resolved for ``h``, with its plan as a
    caption; None (with the error shown) when the settings are not valid."""
    shown = [s for s in kind.settings if s.page]
    values: dict = {"max_distance": st.session_state.get("max_distance")}
    for row in range(0, len(shown), COLUMNS):
        for col, s in zip(st.columns(COLUMNS), shown[row:row + COLUMNS]):
            with col:
                values[s.name] = setting_widget(s, widget_key(kind, s, h), h, values)
    try:
        cfg = kind.resolved(kind.config(values, h, train), h)
    except InputError as err:
        if not (kind.uses_training and train is None):  # else the training settings said why
            st.error(str(err))
        return None
    plan = kind.plan(cfg, h)
    if plan:
        st.caption(plan)
    return cfg
