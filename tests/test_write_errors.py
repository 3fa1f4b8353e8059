"""A full disk (or a folder without write permission) is bad input: one line naming the path,
exit 2, the run marked failed, and the store still readable."""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest

from hrviz.cli import main
from hrviz.errors import InputError
from hrviz.store import Store
from hrviz.write_errors import is_write_failure, writing

SOURCE = "tree:H=3,W=3"


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _safetensor_enospc(*args, **kwargs):
    from safetensors import SafetensorError

    # what safetensors 0.8 raises on a full disk (seen on a 64 KiB tmpfs)
    raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")


@pytest.mark.parametrize("writer", [_enospc, _safetensor_enospc], ids=["OSError", "SafetensorError"])
def test_model_file_on_a_full_disk_fails_the_run_in_one_line(tmp_path, capsys, monkeypatch, writer):
    import safetensors.torch

    db = tmp_path / "s.duckdb"
    monkeypatch.setattr(safetensors.torch, "save_file", writer)
    code, out, err = run_cli(capsys, "train", SOURCE, "--dim", "3", "--recipe", "standard", "--steps", "20",
                             "--json", "--db", db)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    model_path = tmp_path / "models" / "run-1.safetensors"
    assert lines[0].startswith("hrviz train: ") and str(model_path) in lines[0]
    assert "No space left on device" in lines[0] and "cannot write the model file" in lines[0]
    with Store(db, read_only=True) as store:  # the store opens and lists the run, failed
        runs = store.runs()
        assert runs["status"].tolist() == ["failed"]
        assert "No space left on device" in store.run(1)["error"]
    code, out, _ = run_cli(capsys, "runs", "--json", "--db", db)
    assert code == 0 and json.loads(out.splitlines()[-1])[0]["status"] == "failed"


def test_load_on_a_full_disk_fails_the_run_in_one_line(tmp_path, capsys, monkeypatch):
    import safetensors.torch

    from hrviz.sources import load_source

    h = load_source(SOURCE)
    npz = tmp_path / "v.npz"
    np.savez(npz, names=np.array(h.names), vectors=np.eye(h.n, 4))
    monkeypatch.setattr(safetensors.torch, "save_file", _enospc)
    db = tmp_path / "s.duckdb"
    code, _, err = run_cli(capsys, "load", SOURCE, npz, "--db", db)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert str(tmp_path / "models" / "run-1.safetensors") in err
    with Store(db, read_only=True) as store:
        assert store.runs()["status"].tolist() == ["failed"]


def test_projector_export_on_a_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    db = tmp_path / "s.duckdb"
    code, _, _ = run_cli(capsys, "train", SOURCE, "--dim", "3", "--recipe", "standard", "--steps", "20",
                         "--json", "--db", db)
    assert code == 0
    monkeypatch.setattr(np, "savetxt", _enospc)
    out_dir = tmp_path / "out"
    code, _, err = run_cli(capsys, "export", "1", "--format", "projector", "--out", out_dir, "--db", db)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert str(out_dir) in err and "No space left on device" in err
    with Store(db, read_only=True) as store:
        assert store.runs()["status"].tolist() == ["finished"]


def test_what_counts_as_a_write_failure():
    import duckdb

    assert is_write_failure(OSError(errno.EACCES, "Permission denied"))
    assert is_write_failure(OSError(errno.EROFS, "Read-only file system"))
    assert not is_write_failure(OSError(errno.ENOENT, "No such file"))
    assert not is_write_failure(ValueError("No space left on device"))  # not an I/O error type
    assert is_write_failure(duckdb.TransactionException(
        'TransactionContext Error: Failed to commit: Could not write file "x.wal": No space left on device'))
    with pytest.raises(InputError, match=r"^/data/x: cannot write the model file: No space left on device"):
        with writing("/data/x", "the model file"):
            _enospc()
    with pytest.raises(KeyError):  # anything else passes through
        with writing("/data/x", "the model file"):
            raise KeyError("x")


def test_store_writes_on_a_full_disk_are_one_input_error(tmp_path, monkeypatch):
    """A DuckDB commit that fails for lack of space names the store's file; the store stays
    readable."""
    import duckdb

    db = tmp_path / "s.duckdb"
    with Store(db) as store:
        rid = store.create_run(source=SOURCE, hierarchy_hash="h", recipe="standard", dim=2, seed=0, params={})
        real_commit = duckdb.DuckDBPyConnection.commit

        def full(self):
            raise duckdb.TransactionException(
                f'TransactionContext Error: Failed to commit: Could not write file "{db}.wal": '
                "No space left on device")

        monkeypatch.setattr(duckdb.DuckDBPyConnection, "commit", full)
        with pytest.raises(InputError, match="cannot write the results store: No space left on device") as e:
            store.log_metrics(rid, "train", 0, {"loss": 1.0})
        assert e.value.where == str(db)
        monkeypatch.setattr(duckdb.DuckDBPyConnection, "commit", real_commit)
    with Store(db, read_only=True) as store:
        assert store.runs()["run_id"].tolist() == [rid]


def test_any_command_turns_a_stray_full_disk_into_one_line(capsys, monkeypatch):
    """The CLI's net: a write failure no library call translated (a cache file, say)."""
    import hrviz.cli

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/cache/x.npy")

    monkeypatch.setattr(hrviz.cli, "_cmd_info", full)
    code, _, err = run_cli(capsys, "info", SOURCE)
    assert code == 2
    assert err.strip() == ("hrviz info: /cache/x.npy: cannot write a file: No space left on device "
                           "(free some disk space or write elsewhere (--db PATH, --out DIR))")

    def bug(args):
        raise OSError(errno.ENOENT, "No such file or directory", "/x")

    monkeypatch.setattr(hrviz.cli, "_cmd_info", bug)
    with pytest.raises(FileNotFoundError):  # not a write failure: a bug stays a traceback
        main(["info", SOURCE])
