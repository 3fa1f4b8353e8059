"""Export of one run's rows to Parquet or CSV files."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ..errors import InputError
from .schema import _TABLES


class ExportMixin:
    """:meth:`export` of :class:`~hrviz.store.Store`."""

    def export(self, run_id: int, out_dir: str | Path, fmt: str = "parquet") -> list[Path]:
        """Write one file per table (runs, metrics, recall, retrievals) with that run's rows to
        ``out_dir/run{ID}_{table}.{fmt}``; ``fmt`` is ``parquet`` or ``csv``. Returns the paths.

        DuckDB writes the files itself (a relation with the bound run id); neither the id nor
        the path is formatted into SQL.
        """
        if fmt not in ("parquet", "csv"):
            raise InputError(f"unknown export format {fmt!r}", hint="use parquet or csv")
        with self._open() as cur:
            return self._export(cur, run_id, out_dir, fmt)

    def _export(self, cur, run_id, out_dir, fmt) -> list[Path]:
        run_id = self._require_run(cur, run_id)
        out = Path(out_dir).expanduser()
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"cannot create the export folder: {err}", where=str(out)) from None
        order = {"runs": "", "metrics": " ORDER BY seq", "recall": " ORDER BY seq",
                 "retrievals": ' ORDER BY stage, "query", "rank"'}
        paths = []
        for table in _TABLES:
            path = out / f"run{run_id}_{table}.{fmt}"
            rel = cur.sql(f"SELECT * FROM {table} WHERE run_id = $1{order[table]}",
                          params=[run_id])
            try:
                if fmt == "parquet":
                    rel.write_parquet(str(path))
                else:
                    rel.write_csv(str(path), header=True)
            except duckdb.IOException as err:
                raise InputError(f"cannot write the export: {err}", where=str(path)) from None
            paths.append(path)
        return paths
