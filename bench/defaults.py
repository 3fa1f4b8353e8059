"""The defaults on varied hierarchies: what a user gets with no flag but the distance cap.

Per hierarchy of ``bench/hierarchies.py`` (``TUNE``: the rule was chosen on these; ``REPORT``:
reported on, not looked at while choosing) and per setting, the command line a user types, run
as a subprocess exactly as written (one run at a time: the machine has 2 cores):

- ``default``:  ``python -m hrviz train SOURCE --max-distance 8`` (the good retriever);
- ``paper-standard``: ``... --regime paper --recipe standard`` (the story's first chapter);
- ``paper-pf``: ``... --regime paper --recipe pretrain-finetune`` (its repair).

Each run appends one line to ``bench/results/defaults.jsonl`` (recall by distance, min, overall,
seconds, steps per stage, whether the plateau rule ended them, the verdict); a line already
there is not run again, so the bench resumes. ``--replot`` rewrites ``defaults.md`` and
``defaults.png`` from the jsonl alone.

    python bench/defaults.py --set tune --seeds 0 1
    python bench/defaults.py --set report --seeds 0 1 --settings default paper-standard paper-pf
    python bench/defaults.py --replot
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import hierarchies  # noqa: E402

RESULTS = HERE / "results"
JSONL = RESULTS / "defaults.jsonl"
SETTINGS = {
    "default": [],
    "paper-standard": ["--regime", "paper", "--recipe", "standard"],
    "paper-pf": ["--regime", "paper", "--recipe", "pretrain-finetune"],
}
RULE = "rule-v3"  # bump when the rule changes: lines of an older rule stay in the jsonl, marked


def done() -> set[tuple]:
    if not JSONL.exists():
        return set()
    rows = [json.loads(line) for line in JSONL.read_text().splitlines() if line.strip()]
    return {(r["hierarchy"], r["setting"], r["seed"], r.get("rule")) for r in rows}


def run_one(entry: str, setting: str, seed: int, db: str) -> dict:
    cmd = [sys.executable, "-m", "hrviz", "train", hierarchies.source(entry), "--max-distance", "8",
           *SETTINGS[setting], "--seed", str(seed), "--db", db, "--json"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        return {"hierarchy": entry, "setting": setting, "seed": seed, "rule": RULE, "error": out.stderr[-400:],
                "wall_seconds": wall}
    res = json.loads(out.stdout)
    return {"hierarchy": entry, "setting": setting, "seed": seed, "rule": RULE, "command": " ".join(cmd[1:]),
            "dim": res["dim"], "recall": res["recall_by_distance"], "min": res["min"], "overall": res["overall"],
            "seconds": res["seconds"], "wall_seconds": wall, "stages": res.get("stages"),
            "verdict": res.get("verdict")}


def bench(entries, settings, seeds) -> None:
    RESULTS.mkdir(exist_ok=True)
    have = done()
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.duckdb")
        for seed in seeds:  # every hierarchy once before any twice
            for entry in entries:
                for setting in settings:
                    if (entry, setting, seed, RULE) in have:
                        continue
                    row = run_one(entry, setting, seed, db)
                    with JSONL.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(line(row), flush=True)


def line(r: dict) -> str:
    if "error" in r:
        return f"{r['hierarchy']:44s} {r['setting']:15s} s{r['seed']} ERROR {r['error'][-200:]}"
    rec = " ".join(f"{float(v) * 100:3.0f}" for v in r["recall"].values())
    st = " ".join(f"{k}:{v['steps']}/{v['budget']}{'p' if v['plateau'] else ''}"
                  f"{'K' if v.get('kept_pretrained') else ''}" for k, v in (r.get("stages") or {}).items())
    return (f"{r['hierarchy']:44s} {r['setting']:15s} s{r['seed']} d={r['dim']:<3} min {r['min']:.3f} "
            f"ov {r['overall']:.3f} {r['seconds']:6.0f}s | {rec} | {st}")


def rows(rule: str = RULE) -> list[dict]:
    out = [json.loads(x) for x in JSONL.read_text().splitlines() if x.strip()] if JSONL.exists() else []
    return [r for r in out if r.get("rule") == rule]


def replot() -> None:
    import numpy as np

    data = rows()
    lines = ["# The defaults on varied hierarchies", "",
             f"`bench/defaults.py` (rule `{RULE}`, `hrviz/rule.py`): the command a user types, "
             "`python -m hrviz train SOURCE --max-distance 8` plus the setting's flags, as a subprocess, "
             "one at a time on 2 cores. *tune*: the rule was chosen on these; *report*: not looked at "
             "while choosing. Steps: `stage:steps/budget` (p: ended by the plateau rule; K: the finetune "
             "kept the pretrained model).", ""]
    for group, entries in (("tune", hierarchies.TUNE), ("report", hierarchies.REPORT)):
        lines += [f"## {group}", "", "| hierarchy | setting | seed | d | recall by distance (%) | min | overall | seconds | stages |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for e in entries:
            for r in [r for r in data if r["hierarchy"] == e]:
                if "error" in r:
                    lines.append(f"| `{e}` | {r['setting']} | {r['seed']} | | error: {r['error'][-120:]!r} | | | | |")
                    continue
                rec = " ".join(f"{float(v) * 100:.1f}" for v in r["recall"].values())
                st = ", ".join(f"{k} {v['steps']}/{v['budget']}{' plateau' if v['plateau'] else ''}"
                               f"{' kept pretrained' if v.get('kept_pretrained') else ''}"
                               for k, v in (r.get("stages") or {}).items())
                lines.append(f"| `{e}` | {r['setting']} | {r['seed']} | {r['dim']} | {rec} | {r['min']:.3f} | "
                             f"{r['overall']:.3f} | {r['seconds']:.0f} | {st} |")
        lines.append("")
    lines += ["## Summary per setting (mean ± sd over hierarchies and seeds)", "",
              "| group | setting | runs | min | overall | worst min | seconds (max) | min >= 0.90, overall >= 0.95, <= 600 s |",
              "|---|---|---|---|---|---|---|---|"]
    for group, entries in (("tune", hierarchies.TUNE), ("report", hierarchies.REPORT)):
        for s in SETTINGS:
            sel = [r for r in data if r["hierarchy"] in entries and r["setting"] == s and "error" not in r]
            if not sel:
                continue
            mins = np.array([r["min"] for r in sel])
            ovs = np.array([r["overall"] for r in sel])
            lines.append(f"| {group} | {s} | {len(sel)} | {mins.mean():.3f} ± {mins.std():.3f} | "
                         f"{ovs.mean():.3f} ± {ovs.std():.3f} | {mins.min():.3f} | "
                         f"{max(r['seconds'] for r in sel):.0f} | "
                         f"{sum(r['min'] >= 0.9 and r['overall'] >= 0.95 and r['seconds'] <= 600 for r in sel)} of {len(sel)} |")
    lines += ["", "## The story's bars (paper regime: standard, then pretrain-finetune from the same pretraining)", "",
              "Per hierarchy and seed: the worst distance of standard training, of pretrain-finetune, the lift, "
              "pretrain-finetune's distance 0, and the largest fall of any distance against standard "
              "(bars: where standard's worst is under 50%, a lift of >= 30 points; everywhere distance 0 >= 90% and a fall "
              "<= 2 points; a negative fall: pretrain-finetune is above standard at every distance).", "",
              "| group | hierarchy | seed | standard worst | pf worst | lift | pf d0 | largest fall | bars |",
              "|---|---|---|---|---|---|---|---|---|"]
    for group, entries in (("tune", hierarchies.TUNE), ("report", hierarchies.REPORT)):
        for e in entries:
            for seed in sorted({r["seed"] for r in data if r["hierarchy"] == e}):
                pick = {r["setting"]: r for r in data if r["hierarchy"] == e and r["seed"] == seed and "error" not in r}
                if "paper-standard" not in pick or "paper-pf" not in pick:
                    continue
                std = {k: float(v) for k, v in pick["paper-standard"]["recall"].items()}
                pf = {k: float(v) for k, v in pick["paper-pf"]["recall"].items()}
                fall = max(std[k] - pf.get(k, 0.0) for k in std)
                lift = min(pf.values()) - min(std.values())
                lost = min(std.values()) < 0.5
                ok = (lift >= 0.30 or not lost) and pf.get("0", 0) >= 0.90 and fall <= 0.02
                verdict = ("yes" if ok else "NO") + ("" if lost else " (not lost: no lift asked)")
                lines.append(f"| {group} | `{e}` | {seed} | {100 * min(std.values()):.1f} | {100 * min(pf.values()):.1f} | "
                             f"{100 * lift:+.1f} | {100 * pf.get('0', 0):.1f} | {100 * fall:+.1f} | {verdict} |")
    (RESULTS / "defaults.md").write_text("\n".join(lines) + "\n")
    _chart(data)


def _chart(data) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = [e for e in hierarchies.TUNE + hierarchies.REPORT if any(r["hierarchy"] == e for r in data)]
    if not entries:
        return
    fig, axes = plt.subplots(1, len(SETTINGS), figsize=(5 * len(SETTINGS), 4), sharey=True)
    for ax, s in zip(axes, SETTINGS):
        for e in entries:
            sel = [r for r in data if r["hierarchy"] == e and r["setting"] == s and "error" not in r]
            if not sel:
                continue
            r = sel[0]
            xs = [int(k) for k in r["recall"]]
            ys = [sum(float(x["recall"].get(str(k), 0)) for x in sel) / len(sel) * 100 for k in xs]
            ax.plot(xs, ys, marker="o", ms=3, label=e.replace("wordnet:", "wn:").replace("bench:", "")[:28],
                    ls="-" if e in hierarchies.TUNE else "--")
        ax.set_title(s)
        ax.set_xlabel("distance")
        ax.axhline(90, color="grey", lw=0.5)
    axes[0].set_ylabel("recall@auto (%), mean over seeds")
    axes[-1].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    fig.savefig(RESULTS / "defaults.png", dpi=110)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--set", choices=["tune", "report", "all"], default="tune")
    p.add_argument("--only", nargs="*", help="bench entries (default: the set's)")
    p.add_argument("--seeds", nargs="*", type=int, default=[0, 1])
    p.add_argument("--settings", nargs="*", default=list(SETTINGS))
    p.add_argument("--replot", action="store_true")
    a = p.parse_args()
    if not a.replot:
        entries = a.only or {"tune": hierarchies.TUNE, "report": hierarchies.REPORT,
                             "all": hierarchies.TUNE + hierarchies.REPORT}[a.set]
        bench([e for e in entries if e != "wordnet"] if not a.only else entries, a.settings, a.seeds)
    replot()


if __name__ == "__main__":
    main()
