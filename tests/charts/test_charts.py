"""hrviz.charts: layouts and chart specs, checked through their data and ``to_dict()``."""

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from hrviz import charts
from hrviz.hierarchy import Hierarchy
from hrviz.paper import reference
from hrviz.sources import perfect_tree


def _layers(spec: dict) -> list[dict]:
    return spec.get("layer") or spec["spec"]["layer"]


def _data(spec: dict, layer: dict, parent: dict | None = None) -> list[dict]:
    """The rows a layer draws: its own data, else its parent layer's (Altair hoists shared data)."""
    data = layer.get("data") or (parent or {}).get("data")
    return spec["datasets"][data["name"]]


@pytest.fixture(scope="module")
def tree():
    return perfect_tree(4, 3)  # 40 nodes, leaves at depth 3


@pytest.fixture(scope="module")
def dag():
    # d has two parents at different depths: b (depth 1) and r (depth 0); e is below d
    edges = [("a", "r"), ("b", "a"), ("c", "r"), ("d", "b"), ("d", "r"), ("e", "d")]
    return Hierarchy.from_names(edges, source="test-dag")


# ----------------------------------------------------------------------------- layout


def test_layered_layout_centres_parents_over_children_in_a_perfect_tree(tree):
    nodes, edges = charts.query_tree(tree, tree.n - 1)
    assert len(nodes) == tree.n and len(edges) == tree.n_edges
    pos = nodes.set_index("id")
    assert (pos["y"] == pos["depth"]).all()  # layer = depth, root on top (y = 0)
    for i in range(tree.n):
        kids = tree.children(i)
        if len(kids):
            assert pos.loc[i, "x"] == pytest.approx(pos.loc[kids, "x"].mean())
    # within a layer, every x is distinct and inside [0, 1]
    assert nodes.groupby("depth")["x"].nunique().tolist() == [1, 3, 9, 27]
    assert nodes["x"].between(0, 1).all()


def test_layered_layout_orders_children_by_parent_position():
    g = nx.DiGraph()
    for v, d in [(0, 0), (1, 1), (2, 1), (10, 2), (11, 2), (12, 2)]:
        g.add_node(v, depth=d)
    # 10 and 11 hang under node 2, 12 under node 1: the barycentre order puts 12 first
    g.add_edges_from([(0, 1), (0, 2), (2, 10), (2, 11), (1, 12)])
    pos = charts.layered_layout(g)
    assert pos[1][0] < pos[2][0]
    assert pos[12][0] < pos[10][0] < pos[11][0]
    assert pos[0] == (0.5, 0.0)


def test_query_tree_marks_the_query_and_its_ancestors_with_distances(tree):
    q = tree.id_of("r.2.1.0")
    nodes, edges = charts.query_tree(tree, q)
    relevant = nodes[nodes["role"] != "other"].set_index("name")
    assert relevant["role"].to_dict() == {"r": "ancestor", "r.2": "ancestor", "r.2.1": "ancestor",
                                          "r.2.1.0": "query"}
    assert relevant["distance"].to_dict() == {"r": 3, "r.2": 2, "r.2.1": 1, "r.2.1.0": 0}
    assert nodes.loc[nodes["role"] == "other", "distance"].isna().all()
    # exactly the 3 edges on the path up are highlighted
    assert int(edges["highlight"].sum()) == 3
    hl = edges[edges["highlight"]]
    assert set(zip(hl["parent"], hl["child"])) == {
        (tree.id_of("r"), tree.id_of("r.2")), (tree.id_of("r.2"), tree.id_of("r.2.1")),
        (tree.id_of("r.2.1"), q)}


def test_neighbourhood_of_a_dag_node_uses_shortest_distance_and_caps_children(dag):
    d = dag.id_of("d")
    nodes, edges = charts.neighbourhood(dag, d, max_children=5)
    got = nodes.set_index("name")
    assert set(got.index) == {"r", "a", "b", "d", "e"}  # c is neither ancestor nor child
    assert got.loc["d", "role"] == "query" and got.loc["e", "role"] == "child"
    # r is both a parent (1 hop) and 3 hops up through b, a: the shortest distance counts
    assert got.loc["r", "distance"] == 1 and got.loc["a", "distance"] == 2
    # d's depth is its longest path (3), drawn below b (depth 2)
    assert got.loc["d", "y"] == 3 and got.loc["b", "y"] == 2
    assert len(edges) == 5  # a-r, b-a, d-b, d-r, e-d
    none = charts.neighbourhood(dag, d, max_children=0)[0]
    assert "e" not in set(none["name"])
    capped = charts.neighbourhood(dag, d, max_distance=1)[0]
    assert set(capped["name"]) == {"r", "b", "d", "e"}


def test_graph_chart_spec_layers_and_labels(tree):
    chart = charts.query_tree_chart(tree, tree.id_of("r.0.0.0"))
    spec = chart.to_dict()
    marks = [layer["mark"]["type"] for layer in _layers(spec)]
    assert marks == ["rule", "circle", "text"]
    assert "must retrieve itself and 3 ancestors" in spec["title"]
    circles = _layers(spec)[1]
    assert circles["encoding"]["color"]["field"] == "role"
    assert circles["encoding"]["y"]["scale"]["reverse"] is True  # root on top
    labels = _data(spec, _layers(spec)[2])
    assert sorted(r["text"] for r in labels) == ["r (d=3)", "r.0 (d=2)", "r.0.0 (d=1)", "r.0.0.0"]
    # no labels at all when asked
    assert len(_layers(charts.query_tree_chart(tree, 5, labels="none").to_dict())) == 2


def test_neighbourhood_chart_title_counts_hidden_children():
    h = perfect_tree(3, 8)
    spec = charts.neighbourhood_chart(h, 0, max_children=3).to_dict()
    assert "0 ancestors, 8 children, 5 more children not shown" in spec["title"]
    assert len(_data(spec, _layers(spec)[1])) == 4  # the root and 3 children


# ----------------------------------------------------------------------------- histograms


def test_depth_and_distance_histograms(tree):
    df = charts.depth_frame(tree)
    assert df.to_dict("list") == {"depth": [0, 1, 2, 3], "nodes": [1, 3, 9, 27]}
    spec = charts.depth_histogram(df).to_dict()
    assert spec["mark"]["type"] == "bar" and spec["encoding"]["x"]["field"] == "depth"
    dist = charts.distance_frame(tree.closure(2).count_by_distance())
    assert dist.to_dict("list") == {"distance": [0, 1, 2], "pairs": [40, 39, 36]}
    spec = charts.distance_histogram(dist).to_dict()
    assert spec["encoding"]["y"]["field"] == "pairs"
    assert spec["datasets"][spec["data"]["name"]][2] == {"distance": 2, "pairs": 36}


# ----------------------------------------------------------------------------- recall


def _recall_rows():
    """Two runs: #1 pretrain (steps 0, 10) then finetune restarting at step 0 (0, 5) then final;
    #2 train only."""
    rows = []
    for stage, step, r in [("pretrain", 0, (0.9, 0.1)), ("pretrain", 10, (1.0, 0.4)),
                           ("finetune", 0, (1.0, 0.5)), ("finetune", 5, (0.95, 0.9)),
                           ("final", 5, (0.97, 0.88))]:
        for dist, value in enumerate(r):
            rows.append((1, stage, step, "val" if stage != "final" else "all", dist, value))
    for step, r in [(0, (0.5, 0.2)), (20, (1.0, 0.3))]:
        for dist, value in enumerate(r):
            rows.append((2, "train", step, "val", dist, value))
    return pd.DataFrame(rows, columns=["run_id", "stage", "step", "split", "distance", "recall"])


def test_with_global_step_continues_a_restarted_stage():
    df = charts.with_global_step(_recall_rows())
    one = df[df["run_id"] == 1].drop_duplicates(["stage", "step"])
    assert list(zip(one["stage"], one["step"], one["global_step"])) == [
        ("pretrain", 0, 0), ("pretrain", 10, 10), ("finetune", 0, 11), ("finetune", 5, 16),
        ("final", 5, 17)]
    two = df[df["run_id"] == 2]
    assert (two["global_step"] == two["step"]).all()
    # a stage whose steps already continue is not shifted
    cont = pd.DataFrame({"run_id": 1, "stage": ["pretrain", "finetune"], "step": [10, 20]})
    assert charts.with_global_step(cont)["global_step"].tolist() == [10, 20]
    bounds = charts.stage_boundaries(df)
    assert bounds.to_dict("list") == {"run_id": [1, 1], "stage": ["finetune", "final"],
                                      "global_step": [11, 17]}


def test_recall_over_steps_chart_one_line_per_distance_and_a_stage_rule():
    rec = _recall_rows()
    spec = charts.recall_over_steps_chart(rec[rec["run_id"] == 1]).to_dict()
    lines, bounds = _layers(spec)
    assert lines["mark"]["type"] == "line"
    assert lines["encoding"]["color"]["field"] == "distance"
    assert lines["encoding"]["x"]["field"] == "global_step"
    assert lines["encoding"]["y"]["scale"]["domain"] == [0, 1]
    data = _data(spec, lines)
    assert {r["stage"] for r in data} == {"pretrain", "finetune"}  # "final" left out
    rule = bounds["layer"][0]
    assert rule["mark"]["type"] == "rule"
    assert _data(spec, rule, bounds) == [{"run_id": 1, "stage": "finetune", "global_step": 11}]
    # a one-stage run has no boundary layer
    single = charts.recall_over_steps_chart(rec[rec["run_id"] == 2]).to_dict()
    assert len(_layers(single)) == 1


def test_loss_chart_filters_the_metric_and_marks_stages():
    m = pd.DataFrame({"run_id": 1, "stage": ["pretrain"] * 3 + ["finetune"] * 2,
                      "step": [0, 1, 2, 0, 1], "name": ["loss", "progress", "loss", "loss", "loss"],
                      "value": [2.0, 0.1, 1.0, 0.9, 0.8]})
    spec = charts.loss_chart(m).to_dict()
    line, bounds = _layers(spec)
    data = _data(spec, line)
    assert [r["value"] for r in data] == [2.0, 1.0, 0.9, 0.8]
    assert [r["global_step"] for r in data] == [0, 2, 3, 4]
    assert _data(spec, bounds["layer"][0], bounds)[0]["global_step"] == 3


def test_final_recall_frame_keeps_the_last_evaluation_and_labels_runs():
    rec = _recall_rows()
    runs = pd.DataFrame({"run_id": [1, 2], "recipe": ["pretrain-finetune", "standard"],
                         "dim": [3, 3], "source": ["tree:H=4,W=5"] * 2})
    out = charts.final_recall_frame(rec, runs)
    got = {(r.run_id, r.stage): [] for r in out.itertuples()}
    for r in out.itertuples():
        got[(r.run_id, r.stage)].append((r.step, r.distance, r.recall))
    assert got[(1, "pretrain")] == [(10, 0, 1.0), (10, 1, 0.4)]
    assert got[(1, "finetune")] == [(5, 0, 0.95), (5, 1, 0.9)]
    assert got[(2, "train")] == [(20, 0, 1.0), (20, 1, 0.3)]
    assert set(out.loc[out["run_id"] == 1, "run"]) == {"#1 pretrain-finetune d=3"}


def test_reference_frame_from_the_paper():
    ref = charts.reference_frame(reference("tree:H=4,W=5", 3, "pretrain-finetune"), recipe="pf")
    assert ref.to_dict("list") == {"distance": [0, 1, 2], "recall": [1.0, 1.0, 1.0],
                                   "recipe": ["pf"] * 3}
    assert charts.reference_frame(None, recipe="x").empty
    wn = charts.reference_frame(reference("wordnet", 64, "standard", 8))
    assert wn["recall"].iloc[-1] == pytest.approx(0.194)


def test_recall_by_distance_chart_with_reference_ticks():
    df = pd.DataFrame({"recipe": ["standard"] * 3, "distance": [0, 1, 2], "recall": [1, .5, .2]})
    ref = charts.reference_frame(reference("tree:H=4,W=5", 3, "standard"), recipe="standard")
    spec = charts.recall_by_distance_chart(df, reference=ref).to_dict()
    line, tick = _layers(spec)
    assert line["mark"]["type"] == "line" and tick["mark"]["type"] == "tick"
    assert line["encoding"]["color"]["field"] == "recipe"
    assert _data(spec, tick) == [{"distance": 0, "recall": 1.0, "recipe": "standard"}]
    assert len(_layers(charts.recall_by_distance_chart(df).to_dict())) == 1


def test_runs_recall_chart_facets_runs_and_filters_paper_marks():
    rec = _recall_rows()
    runs = pd.DataFrame({"run_id": [1, 2], "recipe": ["pretrain-finetune", "standard"],
                         "dim": [3, 3], "source": ["tree:H=4,W=5"] * 2})
    final = charts.final_recall_frame(rec, runs)
    ref = charts.reference_frame(reference("tree:H=4,W=5", 3, "standard"), run="#2 standard d=3")
    spec = charts.runs_recall_chart(final, reference=ref, columns=2).to_dict()
    assert spec["facet"]["field"] == "run" and spec["columns"] == 2
    assert spec["facet"]["sort"] == ["#1 pretrain-finetune d=3", "#2 standard d=3"]
    lines, ticks = spec["spec"]["layer"]
    assert lines["transform"] == [{"filter": "datum.kind == 'hrviz'"}]
    assert ticks["transform"] == [{"filter": "datum.kind == 'paper'"}]
    assert lines["encoding"]["color"]["scale"]["domain"] == ["train", "pretrain", "finetune", "final"]
    data = spec["datasets"][spec["data"]["name"]]
    paper = [r for r in data if r["kind"] == "paper"]
    assert paper == [{"run": "#2 standard d=3", "stage": "paper", "distance": 0, "recall": 1.0,
                      "kind": "paper"}]
    assert len(data) == len(final) + 1


def test_depth_frame_counts_every_node():
    h = perfect_tree(5, 5)
    df = charts.depth_frame(h)
    assert int(df["nodes"].sum()) == h.n == 781
    assert np.array_equal(df["nodes"], [1, 5, 25, 125, 625])
