"""Every ``python -m hrviz ...`` command of README.md runs as written and exits 0.

The commands come from README.md itself (fenced code blocks and inline code spans), so the README
cannot drift from the command line again. Each is run through :func:`hrviz.cli.main` (what
``python -m hrviz`` calls) after these substitutions:

- placeholders: SOURCE (and a literal source such as ``wordnet``) -> a small tree (WordNet's
  mammals for text encoders); D -> 4;
  RECIPE -> standard; RUN_ID -> a run an earlier command stored (a text run for ``query``);
  PATH -> a temporary store; DIR -> a temporary folder; FILE FILE2 -> the projector pair an
  earlier ``export`` wrote; SPEC.toml -> a two-cell spec; other capitals (N, S, T, E, K, INT, NAME)
  -> small values;
- ``[optional parts]`` are present; ``a|b|c`` runs once per alternative (an alternative that
  needs a local model, ``st:MODEL``, is left out); ``...``, ``[hyper-parameters]`` and ``# comments``
  are dropped;
- a command that trains gets small-step flags appended (``--steps 20 --finetune-steps 10
  --eval-every 10``; Poincaré ``--burn-in 1``); its own flags stay as written.

Node counts of the synthetic tree are not assumed (``tree:H=..`` may count levels or edges).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import re
import shlex
import time
from pathlib import Path

import pytest

from hrviz.cli import main
from tests.helpers import ROOT

README = ROOT / "README.md"
SMALL = "tree:H=3,W=2"
TEXT = "wordnet:mammal.n.01"  # text encoders read real node text; --holdout-nodes needs enough leaves
SOURCE_COMMANDS = {"info", "train", "geometry", "encode", "load", "story"}
BY_FLAG = {"--max-distance": "2", "--jobs": "1", "--trials": "1", "--epochs": "2", "--k": "5", "--seed": "0",
           "--dim": "4", "--recipe": "standard", "--name": "readme"}
SMALL_STEPS = ["--steps", "20", "--finetune-steps", "10", "--eval-every", "10"]


def readme_commands() -> list[str]:
    """Every ``python -m hrviz ...`` command of the README: a line of a fenced block, or an
    inline code span (which may wrap over lines)."""
    text = README.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S):
        found += [line.strip() for line in block.splitlines() if line.strip().startswith("python -m hrviz")]
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    found += [" ".join(span.split()) for span in re.findall(r"`(python -m hrviz[^`]*)`", prose)]
    return found


def expand(command: str) -> list[list[str]]:
    """One README command -> the argument lists to run (alternatives expanded, options present)."""
    command = command.split("  #")[0].split(" # ")[0]  # comments
    command = command.replace("[hyper-parameters]", "").replace("...", "")
    command = command.replace("[", " ").replace("]", " ")
    words = shlex.split(command)[3:]  # after "python -m hrviz"
    choices = []
    for word in words:
        alts = word.split("|") if "|" in word and not word.startswith("-") else [word]
        alts = [a for a in alts if "MODEL" not in a and a != "INT"] or alts  # --k auto|INT: auto
        choices.append(alts)
    return [list(c) for c in itertools.product(*choices)]


class Session:
    """Runs commands in order, remembering what they stored (run ids, export folders)."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.db = tmp / "readme.duckdb"
        self.table_run = None
        self.text_run = None
        self.exports = tmp / "exports"
        self.spec = tmp / "spec.toml"
        self.spec.write_text(f'name = "readme"\n[fixed]\ndim = 4\nsteps = 20\nfinetune_steps = 10\n'
                             f'eval_every = 10\nrecipe = "standard"\n[grid]\nsource = ["{SMALL}"]\nseed = [0, 1]\n')

    def substitute(self, words: list[str]) -> list[str]:
        cmd = words[0]
        out = [cmd]
        for i, w in enumerate(words[1:], start=1):
            prev = words[i - 1]
            if i == 1 and cmd in SOURCE_COMMANDS and w not in ("-h", "--help"):
                w = TEXT if "--encoder" in words else SMALL
            elif prev in BY_FLAG and w.isupper():  # a placeholder; literal values stay as written
                w = BY_FLAG[prev]
            elif w == "RUN_ID" or w == "RUN":
                w = str(self.text_run if cmd == "query" else self.table_run)
            elif w == "PATH":
                w = str(self.db)
            elif w == "DIR":
                w = str(self.exports)
            elif w == "FILE":
                w = str(self.exports / f"run{self.table_run}_vectors.tsv")
            elif w == "FILE2":
                w = str(self.exports / f"run{self.table_run}_metadata.tsv")
            elif w == "SPEC.toml":
                w = str(self.spec)
            elif w in ("N", "S", "T", "E", "K", "NAME"):
                raise AssertionError(f"placeholder {w} after {prev}: add it to BY_FLAG")
            out.append(w)
        if cmd == "train" and "-h" not in out:
            if "poincare" in out:
                out += ["--burn-in", "1"] + ([] if "--epochs" in out else ["--epochs", "2"])
            else:
                out += SMALL_STEPS
        return out

    def run(self, argv: list[str]) -> str:
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main(argv)
            except SystemExit as e:  # -h
                code = e.code
        assert code == 0, f"`python -m hrviz {shlex.join(argv)}` exited {code}: {stderr.getvalue()}"
        out = stdout.getvalue()
        if "--json" in argv and argv[0] in ("train", "encode", "load") and out.strip():
            res = json.loads(out.strip().splitlines()[-1])
            if res.get("model") == "text":
                self.text_run = res["run_id"]
            elif self.table_run is None and res.get("model") in (None, "dual-encoder"):
                self.table_run = res["run_id"]
        return out


def test_readme_lists_the_commands():
    commands = readme_commands()
    named = {shlex.split(c.split(" #")[0].replace("[", " ").replace("]", " "))[3] for c in commands}
    assert {"info", "train", "eval", "runs", "export", "load", "geometry", "sweep", "encode", "query", "story"} <= named


@pytest.mark.slow
def test_every_readme_command_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.setenv("HRVIZ_DB", str(tmp_path / "readme.duckdb"))  # commands without --db
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    session = Session(tmp_path)
    ran = []
    for command in readme_commands():
        for words in expand(command):
            argv = session.substitute(words)
            t0 = time.perf_counter()
            session.run(argv)
            ran.append(f"{time.perf_counter() - t0:5.1f} s  {shlex.join(argv)}")
    assert any(" s  load " in a for a in ran) and any(" s  query " in a for a in ran)
    print("\n".join(ran))


def test_dim_defaults_per_model_kind(tmp_path, capsys):
    """Without --dim: the hierarchy's own for lookup tables (hrviz.rule, TrainConfig's default
    too), 10 for Poincaré; -h says so."""
    from hrviz.rule import measure, recommended_dim
    from hrviz.sources import load_source
    from hrviz.training import TrainConfig

    assert TrainConfig().dim is None  # resolved from the hierarchy
    want = recommended_dim(measure(load_source(SMALL)))
    db = str(tmp_path / "s.duckdb")
    for extra, dim in ((["--recipe", "standard", "--steps", "10"], want),
                       (["--model", "poincare", "--epochs", "1", "--burn-in", "1"], 10)):
        assert main(["train", SMALL, *extra, "--json", "--db", db]) == 0
        assert json.loads(capsys.readouterr().out.splitlines()[-1])["dim"] == dim
    with pytest.raises(SystemExit):
        main(["train", "-h"])
    assert "10 for --model poincare" in " ".join(capsys.readouterr().out.split())
