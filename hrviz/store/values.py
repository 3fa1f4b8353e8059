"""Checks and conversions of the values written to the store (JSON-able params, ints, floats,
non-empty text, UTC timestamps, run-id lists); each refusal is an InputError naming the value."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


from ..errors import InputError


def _plain(value: Any) -> Any:
    """Plain JSON-able Python values from numpy scalars/arrays, paths, sets, tuples, and dict
    keys of any scalar type (``json`` itself refuses numpy keys and cannot sort mixed keys)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if hasattr(key, "item") and getattr(key, "ndim", None) == 0:
                key = key.item()  # numpy scalar key
            if not isinstance(key, str):
                key = json.dumps(key) if key is None or isinstance(key, (bool, int, float)) else str(key)
            out[key] = _plain(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy/torch scalar
        return value.item()
    if hasattr(value, "tolist"):  # numpy array
        return _plain(value.tolist())
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _to_json(value: Any, what: str) -> str:
    try:
        return json.dumps(_plain(value), sort_keys=True)
    except (TypeError, ValueError) as err:
        raise InputError(f"{what} cannot be stored as JSON: {err}",
                         hint="use numbers, strings, lists and dicts") from None


def _int(value: Any, what: str) -> int:
    """A Python int from an int-like value (numpy ints included, bools and floats refused)."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InputError(f"{what} must be an integer, got {value!r}")
    return int(value.__index__())


def _float(value: Any, what: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number, got {value!r}") from None


def _text(value: Any, what: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise InputError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _ids(run_ids: int | list[int]) -> list[int]:
    if isinstance(run_ids, (list, tuple, set, frozenset)) or hasattr(run_ids, "tolist"):
        values = run_ids.tolist() if hasattr(run_ids, "tolist") else list(run_ids)
        return [_int(v, "run id") for v in values]
    return [_int(run_ids, "run id")]


class RunParams(dict):
    """A run's params as :meth:`Store.runs` and :meth:`Store.run` both give them: a dict (parsed
    from the stored JSON) that also names the run's model kind (:attr:`kind`)."""

    #: the kind of a run whose params record none; the store knows no kinds, the kind registry
    #: (:data:`hrviz.kinds.DEFAULT`) sets it when it loads
    unrecorded_kind: str | None = None

    @classmethod
    def parse(cls, value: Any) -> "RunParams":
        """``value`` as RunParams: a dict, the stored JSON text, or None / junk (empty params)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        return cls(value) if isinstance(value, dict) else cls()

    @property
    def kind(self) -> str | None:
        """The model kind the run recorded (``params["model"]``), else :attr:`unrecorded_kind`:
        a key of :data:`hrviz.kinds.KINDS`."""
        return str(self.get("model") or "") or self.unrecorded_kind
