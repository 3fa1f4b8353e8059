"""Train: choose a dimension and a recipe, start and stop a run in a background thread, and
watch recall by distance and the loss live from the results store. Or load an earlier model, or
your own vectors."""

import streamlit as st

from hrviz import charts
from hrviz.errors import InputError
from hrviz.training import REGIME_HELP, REGIMES, RECIPES, TrainConfig  # imports torch: only the page that trains does
from hrviz.pairs import query_nodes
from hrviz.rule import dim_warning, measure
from hrviz.training.config import regime_values
from hrviz_app.active import run_of_active_source, set_active_run
from hrviz_app.loaded import vectors_upload
from hrviz_app.navigation import through_app
from hrviz_app.model_choice import kind_settings, model_choice
from hrviz_app.resources import DEFAULT_SOURCE, get_store, load_hierarchy
from hrviz_app.story import story_training
from hrviz_app.titles import run_label, run_origin, source_title
from hrviz_app.training import active_trainings, start_training, stop_training, training_job
from hrviz_app.uploads import import_model
from hrviz_app.verdict import show_verdict
from hrviz_app.your_story import story_panel


through_app(__file__)  # never the legacy pages-directory mode
st.title("Train")
source = st.session_state.get("source", DEFAULT_SOURCE)
h = load_hierarchy(source)
store = get_store()
st.caption(f"Trains a model of the kind you choose on "
           f"`{source_title(source)}` ({h.n:,} nodes, depth {h.max_depth}); change the hierarchy on the "
           "Hierarchy page. Training runs in the background and writes every number to the results "
           "store: other pages stay usable.")

base = TrainConfig()
st.session_state.setdefault("t_recipe", "pretrain-finetune")
st.session_state.setdefault("t_regime", "exact")  # the command line's default: one rule for both
st.session_state.setdefault("t_pf", st.session_state["t_recipe"] == "pretrain-finetune")


def _on_toggle() -> None:
    st.session_state["t_recipe"] = "pretrain-finetune" if st.session_state["t_pf"] else "standard"


def _on_recipe() -> None:
    st.session_state["t_pf"] = st.session_state["t_recipe"] == "pretrain-finetune"


FINETUNE_KEYS = ("t_ratio", "t_ft_temp")  # and t_threshold_<hash>: widgets whose defaults are the preset's


def _forget_finetune_values() -> None:
    for key in [k for k in st.session_state if k in FINETUNE_KEYS or k.startswith("t_threshold_")]:
        del st.session_state[key]


def _on_regime() -> None:
    """A new regime brings its own finetune defaults: forget the old regime's values."""
    _forget_finetune_values()


def unless_preset(value, preset):
    """None (the preset applies) where a widget still shows the preset's value, else the value."""
    return None if value is None or value == preset else value


# ----- settings: the model's kind (hrviz.kinds), the training settings where it trains with them
kind = model_choice()
train = None
if kind.uses_training:
    c1, c2, c3 = st.columns(3)
    with c1:
        dim = st.number_input("Dimension d", 1, 1024, value=None, key=f"t_dim_{h.hash}",
                              placeholder="auto (from the hierarchy)", help=TrainConfig.help("dim"))
        recipe = st.selectbox("Recipe", list(RECIPES), key="t_recipe", on_change=_on_recipe)
        st.caption(RECIPES[recipe])
        pf = st.toggle("Pretrain-finetune", key="t_pf", on_change=_on_toggle,
                       help="pretrain on all pairs, then finetune on long-distance pairs only")
        regime = st.selectbox("Regime", list(REGIMES), key="t_regime", help=TrainConfig.help("regime"),
                              on_change=_on_regime)
        st.caption(REGIME_HELP[regime])
        preset = regime_values(regime)  # the same on every hierarchy; sizes come from hrviz.rule
        if st.session_state.get("t_preset") != (regime, h.hash):  # another preset: its own defaults
            _forget_finetune_values()
            st.session_state["t_preset"] = (regime, h.hash)
    with c2:
        steps = st.number_input("Steps (pretrain / main stage)", 1, 100_000, value=None, step=100,
                                key="t_steps", placeholder="auto",
                                help=TrainConfig.help("steps"))
        seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="t_seed", help=TrainConfig.help("seed"))
        logq = st.select_slider("logQ correction", [0.0, 0.25, 0.5, 0.75, 1.0], value=base.logq, key="t_logq",
                                format_func=lambda v: "off" if v == 0 else f"alpha {v:g}",
                                help=TrainConfig.help("logq"))
        max_distance = st.session_state.get("max_distance")
        cap = max_distance if max_distance is not None else preset["max_distance"]
        st.caption(f"Pairs up to distance {min(cap or h.max_depth, h.max_depth)} " + (
            "(the cap set on the Hierarchy page)." if max_distance is not None or cap is None
            else f"(the {regime} regime's preset on this hierarchy)."))
    with c3:
        ft_steps = ratio = ft_temp = threshold = None
        p = base.rebalance_p
        if pf:
            ft_steps = st.number_input("Finetune steps", 1, 100_000, value=None, step=50,
                                       key="t_ft_steps", placeholder="auto (stops on a plateau)",
                                       help=TrainConfig.help("finetune_steps"))
            # defaults: the regime's preset on this hierarchy; a value left there is sent as None
            ratios = sorted({1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 1.0, preset["finetune_lr_ratio"]})
            ratio = unless_preset(st.select_slider(
                "Finetune learning-rate ratio", ratios, value=preset["finetune_lr_ratio"], key="t_ratio",
                format_func=lambda v: f"{v:g}", help=TrainConfig.help("finetune_lr_ratio")),
                preset["finetune_lr_ratio"])
            ft_temp = st.number_input(
                "Finetune temperature", 1.0, 5000.0, value=None, step=10.0, key="t_ft_temp",
                placeholder="the pretraining's", help=TrainConfig.help("finetune_temperature"))
            dmax = max(1, min(cap or h.max_depth, h.max_depth))
            auto = min(dmax, preset["long_threshold"] or 1)
            if dmax > 1:  # (a slider needs two values)
                threshold = unless_preset(st.slider(
                    "Long-distance threshold", 1, dmax, auto, key=f"t_threshold_{h.hash}",
                    help=TrainConfig.help("long_threshold")), auto)
            st.caption("The finetune: distance >= threshold, half of each batch distance 0 (an anchor), "
                       "the other ancestors masked; it keeps the pretrained model unless a checkpoint is "
                       "better without costing any distance more than 2 points.")
        elif recipe == "rebalanced":
            p = st.slider("Share of distance-0 pairs p", 0.0, 1.0, base.rebalance_p, 0.01, key="t_p",
                          help=TrainConfig.help("rebalance_p"))
    with st.expander("More hyper-parameters"):
        e1, e2, e3, e4 = st.columns(4)
        batch = e1.number_input("Batch size", 1, 65_536, value=None, key="t_batch", placeholder="auto",
                                help=TrainConfig.help("batch_size"))
        lr = e2.number_input("Learning rate", 1e-6, 10.0, value=None, format="%g", key="t_lr",
                             placeholder=f"regime: {preset['lr']:g}", help=TrainConfig.help("lr"))
        temp = e3.number_input("Temperature", 0.1, 5000.0, base.temperature, key="t_temp",
                               help=TrainConfig.help("temperature"))
        eval_every = e4.number_input("Evaluate every (steps)", 1, 10_000, value=None, key="t_eval",
                                     placeholder="auto", help=TrainConfig.help("eval_every"))
        patience = e1.number_input("Stop after validations without gain", 0, 10_000, value=None,
                                   key="t_patience", placeholder="auto (5; 0: never stop early)",
                                   help=TrainConfig.help("patience"))
        st.caption("Regime settings (empty: the regime's preset)")
        n1, n2, n3, n4 = st.columns(4)
        regime_choice = {}
        for col, name, label in ((n1, "pairs", "Regular pairs"), (n2, "negatives", "Negatives"),
                                 (n3, "masking", "Masking"), (n4, "optimizer", "Optimiser")):
            regime_choice[name] = col.selectbox(
                label, TrainConfig.choices(name), index=None, key=f"t_{name}",
                placeholder=f"regime: {preset[name]}", help=TrainConfig.help(name))

    cfg = TrainConfig(
        dim=None if dim is None else int(dim), recipe=recipe, seed=int(seed), max_distance=max_distance,
        steps=None if steps is None else int(steps), batch_size=None if batch is None else int(batch),
        regime=regime, lr=None if lr is None else float(lr), temperature=float(temp), eval_every=None if eval_every is None else int(eval_every),
        patience=None if patience is None else int(patience),
        finetune_steps=None if ft_steps is None else int(ft_steps),
        finetune_lr_ratio=None if ratio is None else float(ratio),
        finetune_temperature=None if ft_temp is None else float(ft_temp),
        long_threshold=threshold, rebalance_p=float(p), logq=float(logq),
        **regime_choice,
    )
    try:
        plan = cfg.resolved(h)
        st.caption(f"Plan: d={plan.dim}, at most {plan.total_steps():,} steps ({plan.steps:,}"
                   + (f" + {plan.finetune_steps:,} finetune" if recipe == "pretrain-finetune" else "")
                   + (f"; each stage stops once {plan.patience} validations in a row bring no gain), "
                      if plan.patience else "; no early stop), ")
                   + f"batch {plan.batch_size:,}, evaluation every {plan.eval_every:,} steps, "
                   f"{plan.regime} regime: {plan.pairs} pairs, {plan.negatives} softmax, "
                   f"masking {plan.masking}, {plan.optimizer} at lr {plan.lr:g}"
                   + (", false negatives NOT masked" if plan.masking != "hierarchy" else "")
                   + (f", logQ-corrected (alpha {plan.logq:g})" if plan.logq and plan.negatives != "full" else "")
                   + ".")
        st.caption(f"Device: {__import__('hrviz.training.device', fromlist=['device_name']).device_name(plan.device)}")
        small = dim_warning(measure(h, plan.max_distance, query_nodes(h, plan.queries)), plan.dim)
        if small:  # before training, not only in the verdict
            st.warning(small)
    except InputError as err:
        plan = None
        st.error(str(err))
    train = cfg if plan is not None else None
cfg = plan = kind_settings(kind, h, train)  # the kind's own settings, its config and plan


# ----- start / stop
live = active_trainings()
run_id = st.session_state.get("run_id")
b1, b2, b3 = st.columns([1, 1, 3])
start = b1.button("Start training", type="primary", icon=":material/play_arrow:", key="t_start",
                  disabled=bool(live) or plan is None)
stop = b2.button("Stop", icon=":material/stop:", key="t_stop", disabled=run_id not in live)
running = store.runs(status="running")  # this process's runs, and those of a CLI on this store
story_live = story_training()  # Home's story runs, training in the background of this process
outside = [int(r) for r in running["run_id"] if int(r) not in live and int(r) not in story_live]
watch = None  # a run training elsewhere that this session is not watching
if live and run_id not in live:
    watch = (min(live), "is training (started elsewhere); one run trains at a time.")
elif outside and run_id not in outside:
    watch = (max(outside), "is training in another process on this store (e.g. `python -m hrviz train`).")
elif story_live and run_id not in story_live:
    watch = (max(story_live), "is one of Home's story runs, training in the background (a first start).")
if watch is not None:
    b3.info(f"Run #{watch[0]} {watch[1]}")
    if b3.button(f"Watch run #{watch[0]}", key="t_watch"):
        set_active_run(watch[0])  # its hierarchy too
        st.rerun()
if start:
    try:
        run_id = start_training(source, cfg, h)
    except InputError as err:
        st.error(str(err))
    else:
        st.session_state["t_live"] = run_id
        st.rerun()
if stop and stop_training(run_id):
    st.toast(f"Stopping run #{run_id}: it ends at the next step and keeps what it logged.")


# ----- the live view
def live_view() -> None:
    rid = st.session_state.get("run_id")
    row = run_of_active_source(rid)  # never a run of another hierarchy than the one above
    if row is None:
        st.info(f"No run on `{source_title(source)}` yet: press Start training.")
        return
    training = training_job(rid)
    # alive: trained by this process, or still running in another one (a dead one reads interrupted)
    alive = training.alive if training is not None else row["status"] == "running"
    metrics = store.metrics([int(rid)])
    recall = store.recall([int(rid)])
    prog = metrics[metrics["name"] == "progress"]["value"]
    eta = metrics[metrics["name"] == "eta_seconds"]["value"]
    frac = float(prog.iloc[-1]) if len(prog) else 0.0
    if row["status"] == "finished":
        frac = 1.0
    text = f"Run #{rid} · {row['recipe']} · d={row['dim']} · {row['status']} · {frac:.0%}"
    if alive and len(eta):
        text += f" · about {max(0.0, float(eta.iloc[-1])):.0f} s left"
    st.progress(min(1.0, max(0.0, frac)), text=text)
    if row["status"] in ("failed", "stopped") and row.get("error"):
        (st.error if row["status"] == "failed" else st.warning)(f"Run #{rid} {row['status']}: {row['error']}")
    val = recall[(recall["split"] == "val") & (recall["stage"] != "final")]
    c1, c2 = st.columns([3, 2])
    with c1:
        if val.empty and alive:
            st.caption("Waiting for the first evaluation...")
        elif val.empty:  # e.g. loaded vectors or an uploaded model: nothing was trained here
            st.caption(f"No evaluation during training ({run_origin(row)}): its final numbers are below.")
        else:
            st.altair_chart(charts.recall_over_steps_chart(val), width="stretch")
    with c2:
        if (metrics["name"] == "loss").any():
            st.altair_chart(charts.loss_chart(metrics), width="stretch")
    final = recall[recall["stage"] == "final"]
    if not final.empty:
        runs = store.runs()
        f = charts.final_recall_frame(final, runs[runs["run_id"] == int(rid)])
        m1, m2, m3 = st.columns(3)
        m1.metric("Overall recall", "-" if row.get("overall") is None else f"{row['overall']:.1%}")
        m2.metric("Min over distances", "-" if row.get("min") is None else f"{row['min']:.1%}")
        m3.metric("Seconds", "-" if row.get("seconds") is None else f"{row['seconds']:.1f}")
        held = (final["split"] == "heldout").any()
        st.altair_chart(charts.recall_by_distance_chart(
            f, color="run", title=f"final recall by distance ({'held-out' if held else 'all'} pairs), run #{rid}"),
            width="stretch")
        show_verdict(store.run(int(rid))["summary"])
    if not alive and st.session_state.get("t_live") == int(rid):
        st.session_state.pop("t_live", None)  # the run ended: one full rerun stops the timer
        st.rerun(scope="app")


st.subheader("Live")
active = run_id in active_trainings() or (run_id is not None and int(run_id) in outside + story_live)
if active:
    st.session_state["t_live"] = int(run_id)
st.fragment(live_view, run_every=1.0 if active else None)()

# ----- the story on this hierarchy (hrviz.your_story): four runs with the defaults
st.subheader("The story on this hierarchy")
story_panel(source, h, st.session_state.get("max_distance"), where="train")

# ----- load a model
st.subheader("Load a model")
l1, l2 = st.columns(2)
with l1:
    runs = store.runs()
    if runs.empty:
        st.caption("No runs in the store yet.")
    else:
        labels = {int(r["run_id"]): run_label(r) for _, r in runs.iterrows()}
        ids = list(labels)
        current = st.session_state.get("run_id")
        pick = st.selectbox("An earlier run", ids, format_func=labels.get, key="t_pick",
                            index=ids.index(current) if current in ids else 0)
        if st.button("Make it the active run", key="t_use"):
            problem = set_active_run(pick)  # its hierarchy becomes the active one
            if problem:
                st.warning(f"Its hierarchy cannot be loaded: {problem}")
            else:
                st.rerun()
with l2:
    up = st.file_uploader("A saved model (.safetensors from results/models)", type=["safetensors"],
                          key="t_model")
    if up is not None:
        done = st.session_state.get("t_model_result")
        if not done or done[0] != up.file_id:
            try:
                new_id = import_model(up.getvalue(), up.name, h, source)
                done = (up.file_id, None, new_id)
                st.session_state["run_id"] = new_id
            except InputError as err:
                done = (up.file_id, str(err), None)
            st.session_state["t_model_result"] = done
            if done[2] is not None:
                st.rerun()
        if done[1]:
            st.error(f"Cannot use **{up.name}**: {done[1]}")
        else:
            st.success(f"Loaded **{up.name}** as run #{done[2]} (evaluated on `{source_title(source)}`).")

# ----- load your own vectors
st.subheader("Load vectors")
st.caption(f"Query and document vectors made elsewhere, one pair per node of `{source_title(source)}`: "
           "checked, evaluated exactly and stored as a run (also `python -m hrviz load`).")
vectors_upload(h, source, source_title(source))
