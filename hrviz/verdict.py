"""The verdict after a run: what happened, in plain words a teacher can read aloud, with the
numbers behind each sentence.

:func:`verdict` reads a finished run's summary (recall by distance; for pretrain-finetune the
stages that :func:`hrviz.training.loop.run_stages` recorded) and its params, and returns a list
of findings, each ``{"code", "level", "text", "numbers"}``:

- ``good``: every distance at 90% or more;
- ``lost``: lost in the long distance: which distances are under 50%;
- ``finetune-kept-pretrained``: the finetune did not help, the pretrained checkpoint was
  kept, and what to try;
- ``finetune-repaired``: the finetune lifted the worst distance (pretrained on validation ->
  final);
- ``self-collapsed``: distance 0 under 90% (rebalanced sampling, logQ at full strength);
- ``dim-small``: the dimension is below what the hierarchy needs (:func:`hrviz.rule.dim_warning`).

The command line prints it (``"verdict"`` in ``--json``), the Train and Results pages show it.
"""

from __future__ import annotations

from .rule import Measures, dim_warning

LOST_BELOW = 0.5
GOOD_FROM = 0.9
SELF_FROM = 0.9


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _finding(code: str, level: str, text: str, **numbers) -> dict:
    return {"code": code, "level": level, "text": text, "numbers": numbers}


def verdict(summary: dict, params: dict, measures: Measures | None = None) -> list[dict]:
    """The findings of a run (see the module docstring); ``measures`` (the hierarchy's at the
    run's cap) adds the dimension check."""
    rbd = {int(t): float(r) for t, r in (summary.get("recall_by_distance") or {}).items()}
    if not rbd:
        return []
    out = []
    recipe = params.get("recipe")
    lost = {t: r for t, r in rbd.items() if t > 0 and r < LOST_BELOW}
    if all(r >= GOOD_FROM for r in rbd.values()):
        worst = min(rbd, key=rbd.get)
        out.append(_finding("good", "ok", f"A good retriever: every distance is at {_pct(GOOD_FROM)} or more "
                            f"(the worst, distance {worst}, at {_pct(rbd[worst])}; overall "
                            f"{_pct(summary.get('overall', 0.0))}).", worst=worst, min=rbd[worst]))
    if lost:
        far = ", ".join(f"{t} ({_pct(r)})" for t, r in sorted(lost.items()))
        out.append(_finding("lost", "warn", f"Lost in the long distance: {len(lost)} distance"
                            f"{'s are' if len(lost) > 1 else ' is'} under 50%: {far}. The far ancestors "
                            "are not retrieved.", distances=sorted(lost), recall={t: r for t, r in lost.items()}))
    ft = (summary.get("stages") or {}).get("finetune")
    if recipe == "pretrain-finetune" and ft and ft.get("pretrained"):
        before = {int(t): float(r) for t, r in ft["pretrained"].items()}
        worst_before = min(before.values())
        if ft.get("kept_pretrained") and all(r >= GOOD_FROM for r in rbd.values()):
            out.append(_finding(
                "finetune-kept-pretrained", "ok",
                f"The finetune had nothing to add: after {ft.get('steps', 0):,} finetune steps no checkpoint beat "
                "the pretrained model, which was already good, so it was kept.",
                steps=ft.get("steps", 0), pretrained_min=worst_before))
        elif ft.get("kept_pretrained"):
            out.append(_finding(
                "finetune-kept-pretrained", "warn",
                f"The finetune did not help: after {ft.get('steps', 0):,} finetune steps no checkpoint beat the "
                f"pretrained model without costing a distance more than the guard, so the pretrained model "
                f"was kept (its worst distance on validation: {_pct(worst_before)}). Try the exact regime "
                "(--regime exact), the logQ correction (--logq 0.5), or a larger dimension.",
                steps=ft.get("steps", 0), pretrained_min=worst_before))
        else:
            out.append(_finding(
                "finetune-repaired", "ok",
                f"The finetune repaired it: the worst distance went from {_pct(worst_before)} "
                f"(pretrained, validation) to {_pct(min(rbd.values()))} (final), in {ft.get('steps', 0):,} "
                "finetune steps.", pretrained_min=worst_before, final_min=min(rbd.values())))
    if 0 in rbd and rbd[0] < SELF_FROM:
        why = []
        if recipe == "rebalanced":
            why.append("rebalanced sampling gives distance 0 a small share of the pairs")
        if float(params.get("logq") or 0) > 0:
            why.append(f"the logQ correction (alpha {float(params['logq']):g}) raises rare positives such "
                       "as a leaf least")
        reason = f" ({'; '.join(why)})" if why else ""
        out.append(_finding("self-collapsed", "warn", f"Distance 0 collapsed to {_pct(rbd[0])}: a query no longer "
                            f"retrieves itself{reason}. Pretrain-finetune's anchor keeps distance 0; "
                            "a weaker logQ (--logq 0.5) trades less of it.", recall=rbd[0]))
    dim = params.get("dim")
    if measures is not None and dim and min(rbd.values()) < GOOD_FROM:  # (a good run needs no warning)
        text = dim_warning(measures, int(dim))
        if text:
            out.append(_finding("dim-small", "warn", text, dim=int(dim)))
    return out


def lines(findings: list[dict]) -> list[str]:
    """The findings as sentences (the command line's text output)."""
    return [("ok: " if f["level"] == "ok" else "warning: ") + f["text"] for f in findings]
