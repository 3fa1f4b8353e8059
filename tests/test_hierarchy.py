"""The hierarchy core against known counts (WordNet, perfect trees) and brute-force references."""

from __future__ import annotations

import importlib
import random
from collections import deque
from functools import lru_cache

import numpy as np
import pytest

from hrviz.errors import InputError
from hrviz.hierarchy import Hierarchy
from hrviz.sources import load_source, perfect_tree, random_dag


# ----- brute-force references (plain Python, one node at a time) -----------------------------
def parent_lists(h: Hierarchy) -> list[list[int]]:
    return [h.parents(i).tolist() for i in range(h.n)]


def bfs_ancestors(parents: list[list[int]], q: int, cap: int | None = None) -> dict[int, int]:
    """Shortest number of parent hops from q to each ancestor (q itself at 0)."""
    dist = {q: 0}
    todo = deque([q])
    while todo:
        v = todo.popleft()
        if cap is not None and dist[v] >= cap:
            continue
        for p in parents[v]:
            if p not in dist:
                dist[p] = dist[v] + 1
                todo.append(p)
    return dist


def longest_depths(parents: list[list[int]]) -> list[int]:
    @lru_cache(maxsize=None)
    def depth(v: int) -> int:
        return 1 + max(depth(p) for p in parents[v]) if parents[v] else 0

    return [depth(v) for v in range(len(parents))]


def check_against_brute_force(h: Hierarchy, caps=(None, 1, 2, 3)):
    parents = parent_lists(h)
    assert h.depth.tolist() == longest_depths(parents)
    for cap in caps:
        c = h.closure(cap)
        total = 0
        for q in range(h.n):
            docs, dist = c.of(q)
            ref = bfs_ancestors(parents, q, cap)
            assert dict(zip(docs.tolist(), dist.tolist())) == ref, (q, cap)
            # pairs of a query are sorted by distance, then doc id
            assert list(zip(dist.tolist(), docs.tolist())) == sorted(zip(dist.tolist(), docs.tolist()))
            total += len(ref)
        assert c.n_pairs == total and c.n_ancestor_pairs == total - h.n
        assert (c.query == np.repeat(np.arange(h.n), c.sizes())).all()


def random_edge_dag(seed: int, n: int = 150, m: int = 300) -> tuple[list[str], list[tuple[str, str]]]:
    """Random edges i -> j with j < i, under shuffled names so ids are not in topological order."""
    rng = random.Random(seed)
    edges = []
    for _ in range(m):
        i = rng.randrange(1, n)
        edges.append((i, rng.randrange(0, i)))
    edges += edges[:10]  # duplicates merge
    perm = list(range(n))
    rng.shuffle(perm)
    names = [f"n{perm[i]}" for i in range(n)]
    order = names[:]
    rng.shuffle(order)
    return order, [(names[c], names[p]) for c, p in edges]


# ----- WordNet ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wn() -> Hierarchy:
    return load_source("wordnet")


def test_wordnet_counts(wn):
    assert wn.info() == {"nodes": 82_115, "edges": 84_427, "roots": 1, "leaves": 64_958,
                         "max_depth": 19, "closure_pairs": 743_241}
    assert [wn.names[r] for r in wn.roots] == ["entity.n.01"]
    assert not wn.is_tree
    dog = wn.id_of("dog.n.01")
    assert wn.label(dog).startswith("dog") and "domesticated" in wn.descriptions[dog]
    assert wn.id_of("entity.n.01") in wn.ancestors(dog)


def test_wordnet_closure_matches_bfs_on_a_sample(wn):
    parents = parent_lists(wn)
    c, c3 = wn.closure(), wn.closure(3)
    for q in random.Random(0).sample(range(wn.n), 200):
        docs, dist = c.of(q)
        assert dict(zip(docs.tolist(), dist.tolist())) == bfs_ancestors(parents, q)
        docs, dist = c3.of(q)
        assert dict(zip(docs.tolist(), dist.tolist())) == bfs_ancestors(parents, q, 3)


def test_wordnet_mammal_subtree(wn):
    sub = load_source("wordnet:mammal.n.01")
    assert [sub.names[r] for r in sub.roots] == ["mammal.n.01"]
    root = sub.id_of("mammal.n.01")
    c = sub.closure()
    hits = np.bincount(c.query[c.doc == root], minlength=sub.n)
    assert (hits == 1).all()  # every node has mammal.n.01 as an ancestor (or is it)
    assert sub.n == len(wn.descendants(wn.id_of("mammal.n.01"))) and 1000 < sub.n < 2000
    assert sub.label(sub.id_of("dog.n.01")) == wn.label(wn.id_of("dog.n.01"))
    with pytest.raises(InputError, match="mammal.n.01"):
        load_source("wordnet:mammal")  # the hint lists close matches, the exact synset first


# ----- perfect trees -------------------------------------------------------------------------
@pytest.mark.parametrize("H, W", [(2, 1), (5, 1), (2, 7), (4, 2), (4, 5), (5, 5), (7, 3), (3, 40)])
def test_perfect_tree_counts_from_formulas(H, W):
    # H counts levels (the paper's convention): root at depth 0, leaves at depth H - 1
    h = perfect_tree(H, W)
    D = H - 1  # the leaves' depth
    nodes = sum(W**d for d in range(H))
    pairs = sum(W**d * d for d in range(H))
    assert h.info() == {"nodes": nodes, "edges": nodes - 1, "roots": 1, "leaves": W**D,
                        "max_depth": D, "closure_pairs": pairs}
    assert h.is_tree
    assert np.bincount(h.depth).tolist() == [W**d for d in range(H)]
    for cap in range(H):
        assert h.closure(cap).n_ancestor_pairs == sum(W**d * min(d, cap) for d in range(H))
    assert h.closure().count_by_distance() == {d: sum(W**k for k in range(d, H)) for d in range(H)}


def test_the_papers_tree_counts_levels():
    h = load_source("tree:H=4,W=5")
    assert h.n == 1 + 5 + 25 + 125 == 156 and h.max_depth == 3 and len(h.leaves) == 125
    assert h.closure().sizes()[h.leaves].tolist() == [4] * 125  # s = H relevant documents per leaf
    for bad in ("tree:H=1,W=5", "tree:H=0,W=5"):
        with pytest.raises(InputError, match="H >= 2 levels"):
            load_source(bad)


def test_perfect_tree_names_and_ancestors():
    h = perfect_tree(4, 2)
    assert h.ancestors(h.id_of("r.1.0.1")) == {h.id_of(x): d for d, x in
                                                enumerate(["r.1.0.1", "r.1.0", "r.1", "r"])}


# ----- random DAGs against brute force --------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_dag_matches_brute_force(seed):
    h = random_dag(nodes=300, depth=6, parents=3, p_extra=0.5, seed=seed)
    assert not h.is_tree and h.max_depth == 6
    check_against_brute_force(h)
    for i in range(h.n):  # in a DAG a node is deeper than each of its parents
        assert all(h.depth[i] > h.depth[p] for p in h.parents(i))


@pytest.mark.parametrize("seed", [10, 11, 12, 13, 14])
def test_random_edge_dag_matches_brute_force(seed):
    nodes, edges = random_edge_dag(seed)
    h = Hierarchy.from_names(edges, nodes=nodes)
    assert h.n == len(nodes) and h.n_edges == len(set(edges))
    check_against_brute_force(h, caps=(None, 0, 1, 2, 4))


def test_random_dag_is_reproducible_and_seeded():
    a, b = random_dag(seed=5), random_dag(seed=5)
    assert a.hash == b.hash and a.hash != random_dag(seed=6).hash


def test_shortest_distance_but_longest_depth():
    h = Hierarchy.from_names([("d", "c"), ("c", "b"), ("b", "a"), ("d", "a")])
    d, a = h.id_of("d"), h.id_of("a")
    assert h.ancestors(d)[a] == 1 and h.depth[d] == 3 and h.max_depth == 3


# ----- closure cache -------------------------------------------------------------------------
@pytest.mark.parametrize("cap", [0, 1, 3])
def test_capped_closure_same_before_or_after_the_full_one(cap):
    make = lambda: random_dag(nodes=400, depth=7, parents=3, p_extra=0.6, seed=42)  # noqa: E731
    first, second = make(), make()
    capped_first = first.closure(cap)
    full_first = first.closure()
    full_second = second.closure()
    capped_second = second.closure(cap)  # derived from the cached full closure
    assert capped_second.max_distance == capped_first.max_distance == cap
    for x, y in ((capped_first, capped_second), (full_first, full_second)):
        for field in ("ptr", "query", "doc", "distance"):
            assert np.array_equal(getattr(x, field), getattr(y, field)), field
    assert second.closure(cap) is capped_second  # cached
    assert capped_first.n_pairs < full_first.n_pairs


def test_closure_cap_edge_cases():
    h = random_dag(nodes=100, depth=4, seed=1)
    assert h.closure(4) is h.closure() and h.closure(99) is h.closure()
    assert h.closure(0).n_pairs == h.n and h.closure(0).n_ancestor_pairs == 0
    with pytest.raises(InputError, match=">= 0"):
        h.closure(-1)


# ----- cycles and bad graphs ------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cycle_detection_reports_a_real_cycle(seed):
    nodes, edges = random_edge_dag(seed, n=60, m=120)
    h = Hierarchy.from_names(edges, nodes=nodes)
    # add an edge from an ancestor back down to a deep node: closes a cycle of length >= 3
    deep = int(np.argmax(h.depth))
    top = [a for a, d in h.ancestors(deep).items() if d >= 2][0]
    bad = edges + [(h.names[top], h.names[deep])]
    with pytest.raises(InputError) as info:
        Hierarchy.from_names(bad, nodes=nodes, where="bad.csv")
    msg = str(info.value)
    assert msg.startswith("bad.csv: the hierarchy has a cycle: ") and "remove one edge" in msg
    path = msg.split("cycle: ")[1].split(" (")[0].split(" -> ")
    assert path[0] == path[-1] and len(path) >= 4
    assert all(hop in set(bad) for hop in zip(path, path[1:]))


def test_self_loop_and_empty():
    with pytest.raises(InputError, match="'b' is its own parent"):
        Hierarchy.from_names([("a", "b"), ("b", "b")], where="x")
    with pytest.raises(InputError, match="no nodes"):
        Hierarchy.from_names([])


# ----- subsets, paths, search ---------------------------------------------------------------
@pytest.fixture()
def small() -> Hierarchy:
    edges = [("dog", "canine"), ("canine", "carnivore"), ("cat", "feline"), ("feline", "carnivore"),
             ("carnivore", "animal"), ("dog", "pet"), ("cat", "pet"), ("pet", "animal"),
             ("rock", "thing")]
    labels = {"dog": "Dog", "pet": "Pet, domestic animal"}
    return Hierarchy.from_names(edges, nodes=["animal", "thing"], labels=labels, source="small")


def test_roots_leaves_descendants_subtree(small):
    h = small
    assert sorted(h.names[i] for i in h.roots) == ["animal", "thing"]
    assert sorted(h.names[i] for i in h.leaves) == ["cat", "dog", "rock"]
    assert sorted(h.names[i] for i in h.descendants(h.id_of("carnivore"))) == \
        ["canine", "carnivore", "cat", "dog", "feline"]
    sub = h.subtree("carnivore")
    assert sub.source == "small:carnivore" and (sub.n, sub.n_edges) == (5, 4)
    assert sub.is_tree and [sub.names[r] for r in sub.roots] == ["carnivore"]
    assert sub.label(sub.id_of("dog")) == "Dog"  # labels travel with the nodes
    with pytest.raises(InputError, match="no node named 'wolf'"):
        h.subtree("wolf")


def test_paths_to_root(small):
    h = small
    paths = [[h.names[i] for i in p] for p in h.paths_to_root(h.id_of("dog"))]
    assert sorted(paths) == [["dog", "canine", "carnivore", "animal"], ["dog", "pet", "animal"]]
    assert len(h.paths_to_root(h.id_of("dog"), limit=1)) == 1
    assert h.paths_to_root(h.id_of("animal")) == [[h.id_of("animal")]]
    t = perfect_tree(4, 2)  # in a tree, the one path is the ancestor chain
    leaf = int(t.leaves[-1])
    (path,) = t.paths_to_root(leaf)
    assert path == sorted(t.ancestors(leaf), key=t.ancestors(leaf).get)


def test_search(small):
    h = small
    assert h.search("") == [] and h.search("zebra") == []
    assert [h.names[i] for i in h.search("CAT")] == ["cat"]
    assert h.names[h.search("pet")[0]] == "pet"  # exact name first
    assert [h.names[i] for i in h.search("domestic")] == ["pet"]  # matched by its label
    assert [h.names[i] for i in h.search("anim")] == ["pet", "animal"]  # shorter names first


def test_search_ranks_before_cutting():
    # many long matches first, the short (best) one last: it must still come back within the limit
    names = [f"xylophone_{i:03d}" for i in range(100)] + ["xylo"]
    h = Hierarchy.from_names([(x, "root") for x in names])
    assert h.names[h.search("xyl", limit=5)[0]] == "xylo"
    assert len(h.search("xyl", limit=5)) == 5


def _tiny_wordnet(folder):
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "wordnet_nouns_nodes.tsv.gz", "wt", encoding="utf-8") as f:
        f.write("entity.n.01\tentity\tthat which exists\nanimal.n.01\tanimal\ta living thing\n"
                "dog.n.01\tdog\ta domestic canine\n")
    with gzip.open(folder / "wordnet_nouns_edges.tsv.gz", "wt", encoding="utf-8") as f:
        f.write("animal.n.01\tentity.n.01\ndog.n.01\tanimal.n.01\n")
    return folder


def test_wordnet_data_dir_follows_hrviz_data(tmp_path, monkeypatch):
    wn = importlib.import_module("hrviz.sources.wordnet")  # the module: hrviz.sources.wordnet is also a function

    monkeypatch.setenv("HRVIZ_DATA", str(_tiny_wordnet(tmp_path / "elsewhere")))
    assert wn.find_data_dir() == tmp_path / "elsewhere"
    h = load_source("wordnet")
    assert h.n == 3 and h.label(h.index["dog.n.01"]) == "dog"
    monkeypatch.delenv("HRVIZ_DATA")
    assert wn.find_data_dir() == wn.CHECKOUT_DATA  # running from the checkout: the repository's data/
    # installed elsewhere (no checkout data/): the package data, through importlib.resources
    monkeypatch.setattr(wn, "CHECKOUT_DATA", tmp_path / "no-checkout")
    assert wn.find_data_dir().joinpath(wn.EDGES).is_file()


def test_wordnet_missing_data_dir_is_a_clear_input_error(tmp_path, monkeypatch):
    wn = importlib.import_module("hrviz.sources.wordnet")  # the module: hrviz.sources.wordnet is also a function

    monkeypatch.setenv("HRVIZ_DATA", str(tmp_path / "missing"))
    with pytest.raises(InputError) as e:
        wn.wordnet()
    text = str(e.value)
    assert "HRVIZ_DATA" in text and str(tmp_path / "missing") in text and wn.EDGES in text
    with pytest.raises(InputError, match="missing"):
        wn.wordnet(str(tmp_path / "nowhere"))
