"""The results store: one DuckDB file that holds every run and every number a page shows.

The training engine writes to it while it trains, the CLI and the Streamlit app read from it, and
a notebook can query it (:meth:`Store.query`) or export one run (:meth:`Store.export`).

Schema (version :data:`SCHEMA_VERSION`; no indexes, DuckDB scans these tables fast enough):

``schema_version``
    ``version`` INTEGER: the schema the file was written with (one row).

``runs``: one row per training or evaluation run.
    ``run_id`` BIGINT (from the sequence ``run_ids``, never reused), ``name`` VARCHAR (optional,
    free text), ``created`` and ``ended`` TIMESTAMP (UTC, without time zone), ``status`` VARCHAR
    (one of :data:`STATUSES`), ``source`` VARCHAR (the hierarchy source, e.g. ``tree:H=4,W=5``),
    ``hierarchy_hash`` VARCHAR, ``recipe`` VARCHAR, ``dim`` INTEGER, ``seed`` BIGINT, ``params``
    VARCHAR (JSON object of hyper-parameters), ``error`` VARCHAR (why a run failed or stopped),
    ``seconds`` DOUBLE (wall time), ``metric`` VARCHAR (e.g. ``recall@auto``), ``overall``,
    ``min``, ``mean_rank``, ``map`` DOUBLE (the final summary), ``recall_by_distance`` VARCHAR
    (JSON object from distance, as a string, to recall), ``summary`` VARCHAR (the whole summary
    dict as JSON), ``model_path`` VARCHAR (where the trained model was saved), ``pid`` BIGINT,
    ``pid_start`` BIGINT and ``host`` VARCHAR (the process that created the run, so that runs left
    ``running`` by a process that died can be read as ``interrupted``).

``metrics``: scalar curves (loss, learning rate, ...), one row per name and step.
    ``run_id`` BIGINT, ``stage`` VARCHAR (free text: ``pretrain``, ``finetune``, ``train``,
    ``final``, ...), ``step`` BIGINT, ``name`` VARCHAR, ``value`` DOUBLE, ``seq`` BIGINT (write
    order, from the sequence ``log_seq``).

``recall``: recall by hierarchy distance, one row per distance and evaluation.
    ``run_id`` BIGINT, ``stage`` VARCHAR, ``step`` BIGINT, ``split`` VARCHAR (e.g. ``train``,
    ``test``, ``all``), ``distance`` INTEGER, ``k`` VARCHAR (``auto`` or a number), ``hits``
    BIGINT, ``pairs`` BIGINT, ``recall`` DOUBLE (hits / pairs, NULL when pairs is 0), ``seq``
    BIGINT (write order).

``retrievals``: the ranked lists of the queries that pages inspect.
    ``run_id`` BIGINT, ``stage`` VARCHAR, ``query`` VARCHAR (node name), ``rank`` INTEGER,
    ``doc`` VARCHAR (node name), ``score`` DOUBLE, ``relevant`` BOOLEAN (doc is an ancestor of
    query), ``distance`` INTEGER (hierarchy distance query -> doc, NULL when not relevant).

Concurrency (the app and CLI runs share one file at once). DuckDB locks a file per process: a
read-write connection excludes every other process, read-only ones coexist only with each
other. So nobody holds the file while idle: each operation opens a connection (under a lock per
file in this process, so threads serialise), works in one transaction and closes it. When another
process holds the lock, the connect is retried with exponential back-off and jitter (10 ms doubling
to 0.5 s) for :data:`BUSY_TIMEOUT` seconds (``timeout=``), then a "busy" :class:`InputError`.
A connect costs about 30 ms on this 2-core machine under load (an open connection reads in ~1 ms);
a write with its close (which checkpoints) about 80 ms. Alternatives weighed: one writer process
that owns the file (a server to start, stop and talk to: more machinery than a desktop tool
needs) and per-run files that the store reads (no lock contention, but every page read would
attach many files and the schema would be spread out). Short-lived connections keep one file
and the same API; the price is the connect per operation. ``":memory:"`` stores keep one
persistent connection (a closed in-memory database is gone).

Runs: a ``running`` run of this host whose process is gone (pid missing, or reused: another start
time) reads as ``interrupted`` in :meth:`Store.runs` and :meth:`Store.run`, and is written so when
the Store may write. A run of another host cannot be checked and stays ``running``. Schema 2 adds
``interrupted`` to the statuses; a schema-1 file is migrated when opened read-write.

Every user value is bound as a parameter (``?``); nothing the user typed is formatted into SQL.
A run that fails or is stopped keeps every row written before, only its status changes.
"""

from __future__ import annotations

from .connection import StoreBase
from .export import ExportMixin
from .reads import ReadsMixin
from .schema import BUSY_TIMEOUT, DEFAULT_DB, RUN_COLUMNS, SCHEMA_VERSION, STALE_ERROR, STATUSES, default_db
from .values import RunParams
from .writes import WritesMixin

__all__ = ["BUSY_TIMEOUT", "DEFAULT_DB", "RUN_COLUMNS", "RunParams", "SCHEMA_VERSION", "STALE_ERROR",
           "STATUSES", "Store", "default_db"]


class Store(WritesMixin, ReadsMixin, ExportMixin, StoreBase):
    """The DuckDB results store (see the module docstring for the schema).

    Parameters
    ----------
    path:
        The database file; its parent directory and the schema are created when missing.
        ``":memory:"`` gives a private in-memory store (tests, demos).
    read_only:
        Open without write access: several read-only processes may share a file, but not with a
        writer. Write methods then raise :class:`InputError`.

    Use one Store per process and file (``st.cache_resource`` in the app), from any thread;
    :meth:`close` it (or use ``with Store(...) as store:``) to release the file.
    """
