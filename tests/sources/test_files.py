"""File parsers: every awkward or malformed file gives either the right hierarchy or a clear error."""

from __future__ import annotations

import gzip
import json

import pytest

from hrviz.errors import InputError
from hrviz.sources import load_file, load_source, parse_upload
from tests.helpers import FIXTURES, ROOT



def edges_of(h) -> set[tuple[str, str]]:
    return {(h.names[c], h.names[p]) for c in range(h.n) for p in h.parents(c).tolist()}


def error_of(data: bytes, filename: str, **kw) -> str:
    with pytest.raises(InputError) as info:
        parse_upload(data, filename, **kw)
    return str(info.value)


# ----- edge lists ------------------------------------------------------------------
def test_bom_crlf_blank_and_duplicate_lines_merge():
    data = "\ufeffchild,parent\r\nb,a\r\n\r\nc,a\r\nb,a\r\n  \r\nd,b\r\nd,b\r\n".encode("utf-8")
    h = parse_upload(data, "bom.csv")
    assert h.names[0] == "b"  # the BOM is not part of the first name, the header is recognised
    assert (h.n, h.n_edges) == (4, 3)
    assert edges_of(h) == {("b", "a"), ("c", "a"), ("d", "b")}
    assert h.source == "bom.csv"


def test_quoted_names_with_commas_and_whitespace():
    data = b'"Shoes, Kids",Footwear\n  Footwear ,  Products\n"Shoes, Adults", "Footwear"\n'
    h = parse_upload(data, "q.csv")
    assert edges_of(h) == {("Shoes, Kids", "Footwear"), ("Shoes, Adults", "Footwear"), ("Footwear", "Products")}


@pytest.mark.parametrize("delim", [";", "\t", "|"])
def test_delimiters_are_detected(delim):
    rows = ["Shoes, Kids", "Footwear"], ["Footwear", "Products"], ["Boots", "Footwear"]
    data = "\n".join(delim.join(r) for r in rows).encode()
    h = parse_upload(data, "d.txt")
    assert edges_of(h) == {tuple(r) for r in rows}


def test_tsv_extension_and_more_than_two_columns_without_header():
    data = b"dog\tmammal\t0.9\nmammal\tanimal\t1.0\n"
    h = parse_upload(data, "x.tsv")
    assert edges_of(h) == {("dog", "mammal"), ("mammal", "animal")}


def test_header_and_no_header_give_the_same_hierarchy():
    body = b"dog,mammal\ncat,mammal\nmammal,animal\n"
    for header in (b"child,parent\n", b"Node,Parent\n", b"id,parent_id\n", b"CHILD , PARENT\n"):
        h = parse_upload(header + body, "h.csv")
        assert h.n == 4 and "child" not in h.index and "Node" not in h.index and "id" not in h.index
    plain = parse_upload(body, "h.csv")
    assert edges_of(plain) == edges_of(parse_upload(b"child,parent\n" + body, "h.csv"))


def test_header_columns_by_name_with_label_and_description():
    data = (b"parent;description;child;label\n"
            b"animal;A dog.;dog;Dog\n"
            b"animal;;cat;Cat\n"
            b"animal;A dog again.;dog;Doggo\n")
    h = parse_upload(data, "cols.csv")
    assert edges_of(h) == {("dog", "animal"), ("cat", "animal")}
    assert h.label(h.id_of("dog")) == "Dog"  # first label wins
    assert h.descriptions[h.id_of("dog")] == "A dog."
    assert h.descriptions[h.id_of("cat")] == ""


def test_node_table_with_empty_parent_for_roots():
    data = b"id,parent_id,name\n1,,Root\n2,1,Two\n3,1,Three\n4,2,Four\n"
    h = parse_upload(data, "table.csv")
    assert (h.n, h.n_edges, len(h.roots)) == (4, 3, 1)
    assert h.names[int(h.roots[0])] == "1" and h.label(int(h.roots[0])) == "Root"
    assert h.max_depth == 2


def test_single_field_row_declares_an_isolated_node_and_comments_are_skipped():
    data = b"# exported 2024\nroot\nlonely\na,root\n# b,root is commented out\n"
    h = parse_upload(data, "iso.txt")
    assert sorted(h.names) == ["a", "lonely", "root"]
    assert h.n_edges == 1 and sorted(h.names[i] for i in h.roots) == ["lonely", "root"]


def test_unicode_names():
    data = "Café,Getränke\nGetränke,食品\nÉclair,Café\n".encode()
    h = parse_upload(data, "u.csv")
    assert edges_of(h) == {("Café", "Getränke"), ("Getränke", "食品"), ("Éclair", "Café")}
    assert h.max_depth == 3


def test_utf16_with_bom_is_read():
    h = parse_upload("child\tparent\nb\ta\n".encode("utf-16"), "excel.txt")
    assert edges_of(h) == {("b", "a")}


def test_empty_child_or_parent_names_give_the_line():
    msg = error_of(b"a,b\n\nc,\n", "e.csv")
    assert "e.csv, line 3" in msg and "parent name is empty" in msg and "'c,'" in msg
    msg = error_of(b"a,b\n,b\n", "e.csv")
    assert "e.csv, line 2" in msg and "child name is empty" in msg


def test_unclosed_quote_names_the_line():
    msg = error_of(b'a,b\n"c,b\nd,b\n', "q.csv")
    assert "q.csv, line 2" in msg and "quote opened on line 2 is not closed" in msg


def test_self_loop_gives_the_line():
    msg = error_of(b"a,b\nb,b\n", "loop.csv")
    assert "loop.csv, line 2" in msg and "'b' is its own parent" in msg


def test_cycle_message_shows_the_cycle_path():
    msg = error_of(b"root\nx,root\na,b\nb,c\nc,a\n", "cyc.csv")
    assert msg.startswith("cyc.csv: the hierarchy has a cycle")
    path = msg.split("cycle: ")[1].split(" (")[0].split(" -> ")
    assert path[0] == path[-1] and sorted(path[:-1]) == ["a", "b", "c"]
    for child, parent in zip(path, path[1:]):  # each hop is an edge child -> parent of the file
        assert (child, parent) in {("a", "b"), ("b", "c"), ("c", "a")}
    assert "remove one edge" in msg


def test_no_edges_is_an_error():
    msg = error_of(b"root\n", "one.csv")
    assert "one.csv" in msg and "1 node but no edges" in msg and "child,parent" in msg
    msg = error_of(b"child,parent\n", "header_only.csv")
    assert "no nodes" in msg


@pytest.mark.parametrize("data", [b"", b"  \n\r\n\t\n", b"\xef\xbb\xbf"])
def test_empty_file(data):
    msg = error_of(data, "empty.csv")
    assert msg.startswith("empty.csv: the file is empty")


# ----- gzip, binary, size ---------------------------------------------------------------
def test_gzip_detected_by_magic_bytes_with_or_without_gz():
    data = gzip.compress(b"child,parent\nb,a\nc,a\n")
    for name in ("t.csv.gz", "t.csv", "t.CSV.GZ"):
        h = parse_upload(data, name)
        assert edges_of(h) == {("b", "a"), ("c", "a")}
    h = parse_upload(gzip.compress(json.dumps({"edges": [["b", "a"]]}).encode()), "t.json.gz")
    assert edges_of(h) == {("b", "a")}


def test_truncated_and_corrupt_gzip():
    data = gzip.compress(b"b,a\n" * 1000)
    msg = error_of(data[: len(data) // 2], "t.csv.gz")
    assert msg.startswith("t.csv.gz: the gzip file is truncated") and "gzip -t" in msg
    bad = bytearray(data)
    bad[-8] ^= 0xFF  # CRC
    assert "gzip file is corrupt" in error_of(bytes(bad), "t.csv.gz")


def test_binary_junk_names_the_offset():
    msg = error_of(b"a,b\nc,d\n\x89PNG\x00\x01\x02", "junk.csv")
    assert "NUL byte" in msg and "byte offset 12" in msg and "line 3" in msg and "not a text file" in msg
    assert "ZIP archive" in error_of(b"PK\x03\x04\x14\x00\x06\x00", "sheet.csv")


def test_invalid_utf8_names_offset_and_line():
    data = b"\xef\xbb\xbfb,a\nc,a\nd\xe9j\xe0,a\n"  # latin-1 bytes after a BOM
    msg = error_of(data, "latin.csv")
    assert "not valid UTF-8" in msg and "0xe9" in msg and "byte offset 12" in msg and "line 3" in msg
    assert "UTF-8" in msg.split("(")[-1]


def test_size_limit_on_file_and_on_decompressed_content(tmp_path):
    data = b"b,a\n" * 1000
    msg = error_of(data, "big.csv", max_bytes=1000)
    assert "3.91 KiB, over the limit of 1,000 bytes" in msg and "HRVIZ_LOAD_MAX_BYTES" in msg
    assert parse_upload(data, "big.csv", max_bytes=4000).n == 2
    bomb = gzip.compress(b"b,a\n" * 100_000)  # 400 kB that compresses to ~1 kB
    assert len(bomb) < 2000
    msg = error_of(bomb, "bomb.csv.gz", max_bytes=10_000)
    assert "the decompressed content is over the limit of 9.77 KiB" in msg
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    with pytest.raises(InputError, match="over the limit"):
        load_file(path, max_bytes=100)


def test_one_size_limit_for_every_file_set_by_the_environment(tmp_path, monkeypatch):
    """Hierarchy files obey hrviz's one limit (hrviz.file_limit, as vector files do): 2 GiB,
    $HRVIZ_LOAD_MAX_BYTES sets it for a path, an upload and a gzip's content alike."""
    from hrviz.file_limit import DEFAULT_MAX_BYTES, MAX_BYTES_ENV, max_bytes

    assert max_bytes() == DEFAULT_MAX_BYTES == 2 * 1024 ** 3
    data = b"b,a\n" * 1000
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    monkeypatch.setenv(MAX_BYTES_ENV, "1000")
    for load in (lambda: load_file(path), lambda: parse_upload(data, "big.csv"),
                 lambda: parse_upload(gzip.compress(data), "big.csv.gz"), lambda: load_source(str(path))):
        with pytest.raises(InputError, match=f"over the limit of 1,000 bytes.*{MAX_BYTES_ENV}"):
            load()
    monkeypatch.setenv(MAX_BYTES_ENV, "lots")
    with pytest.raises(InputError, match=f"{MAX_BYTES_ENV} must be a positive number of bytes"):
        load_file(path)


def test_devices_and_pipes_are_read_once_and_bounded(tmp_path):
    """A device is refused unread (it would stream without end); a pipe is read once, up to the
    limit, so a hierarchy can come from <(zcat edges.csv.gz)."""
    import os

    with pytest.raises(InputError, match="a device, not a hierarchy file"):
        load_file("/dev/zero")
    fifo = tmp_path / "edges.csv"
    os.mkfifo(fifo)
    keep = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so the writer does not wait for one
    try:
        with open(fifo, "wb") as w:
            w.write(b"b,a\nc,a\n")
        assert load_file(fifo).n == 3
        with open(fifo, "wb") as w:
            w.write(b"b,a\nc,a\nd,a\n")
        with pytest.raises(InputError, match="more than the limit of 10 bytes: the read stopped there"):
            load_file(fifo, max_bytes=10)
    finally:
        os.close(keep)


# ----- JSON ---------------------------------------------------------------------
def test_json_nested_tree_with_a_repeated_name_makes_a_dag():
    tree = {"name": "Products", "children": [
        {"id": "shoes", "name": "Shoes", "description": "Things for feet", "children": [
            {"name": "Running Shoes"}, {"name": "Boots", "children": []}]},
        {"name": "Sports", "label": "Sport & Outdoor", "children": [{"name": "Running Shoes"}]},
    ]}
    h = parse_upload(json.dumps(tree).encode(), "tree.json")
    assert edges_of(h) == {("shoes", "Products"), ("Sports", "Products"), ("Running Shoes", "shoes"),
                           ("Boots", "shoes"), ("Running Shoes", "Sports")}
    assert h.n == 5 and not h.is_tree
    assert h.label(h.id_of("shoes")) == "Shoes" and h.descriptions[h.id_of("shoes")] == "Things for feet"
    assert h.label(h.id_of("Sports")) == "Sport & Outdoor"
    assert h.names[int(h.roots[0])] == "Products" and len(h.roots) == 1


def test_json_forest():
    forest = [{"name": "A", "children": [{"name": "A1"}, {"name": "A2"}]},
              {"name": "B", "children": [{"name": "B1", "children": [{"name": 7}]}]}]
    h = parse_upload(json.dumps(forest, indent=2).encode(), "forest.json")
    assert sorted(h.names[i] for i in h.roots) == ["A", "B"]
    assert (h.n, h.n_edges, h.max_depth) == (6, 4, 2)
    assert ("7", "B1") in edges_of(h)


def test_json_edges_with_node_objects():
    doc = {"nodes": ["animal", {"name": "dog", "label": "Dog", "description": "barks"}, "lonely"],
           "edges": [["dog", "animal"], {"child": "cat", "parent": "animal"}, ["dog", "animal"]]}
    h = parse_upload(json.dumps(doc).encode(), "edges.json")
    assert h.names == ["animal", "dog", "lonely", "cat"]
    assert (h.n_edges, len(h.roots)) == (2, 2)
    assert h.label(1) == "Dog" and h.descriptions[1] == "barks"
    assert edges_of(parse_upload(b'[["b","a"],["c","b"]]', "pairs.json")) == {("b", "a"), ("c", "b")}


def test_bad_json_shows_line_and_column():
    data = b'{\n  "name": "A",\n  "children": [\n    {"name": "B",}\n  ]\n}\n'
    msg = error_of(data, "bad.json")
    assert msg.startswith("bad.json, line 4: not valid JSON") and "at column 18" in msg and "double quotes" in msg


@pytest.mark.parametrize("doc, expected", [
    ('"hello"', "got a string"),
    ("42", "got a number"),
    ('{"title": "A"}', 'needs a "name" (or "id")'),
    ('{"name": "A", "children": {"name": "B"}}', '$.children: "children" must be a list, got an object'),
    ('{"name": "A", "children": ["B"]}', "at $.children[0]: expected a node object"),
    ('{"name": "A", "children": [{"name": null}]}', "$.children[0].name: the name must be a string, got null"),
    ('{"edges": [["b", "a"], ["c"]]}', "at $.edges[1]: expected a [child, parent] pair"),
    ('{"edges": {"b": "a"}}', '"edges" must be a list of [child, parent] pairs, got an object'),
    ('{"name": "A"}', "1 node but no edges"),
])
def test_json_of_the_wrong_shape_says_what_was_expected(doc, expected):
    msg = error_of(doc.encode(), "shape.json")
    assert msg.startswith("shape.json") and expected in msg


# ----- OBO ---------------------------------------------------------------------------
def test_obo_fixture_obsolete_typedef_comments_and_defs():
    h = load_file(FIXTURES / "mini.obo")
    assert h.n == 7 and "MINI:0000006" not in h.index  # obsolete term dropped
    assert "part_of" not in h.index  # the [Typedef] is not a term
    e = edges_of(h)
    assert len(e) == h.n_edges == 7
    assert ("MINI:0000007", "MINI:0000005") in e  # "! comment" stripped
    assert ("MINI:0000005", "MINI:0000004") in e  # "{qualifier}" stripped
    assert not any(p in ("MINI:0000006", "EXT:9999999") for _, p in e)  # dropped / unknown parents
    assert ("MINI:0000004", "MINI:0000003") in e and ("MINI:0000004", "MINI:0000002") in e  # is_a only
    i = h.id_of("MINI:0000002")
    assert h.label(i) == "metabolic process"
    assert h.descriptions[i] == 'The chemical reactions and pathways, including "anabolism" and catabolism.'
    assert h.descriptions[h.id_of("MINI:0000007")] == "The breakdown of glucose to pyruvate!"
    assert [h.names[r] for r in h.roots] == ["MINI:0000001"] and h.max_depth == 4


def test_obo_errors():
    msg = error_of(b"format-version: 1.2\n\n[Term]\nname: no id here\nis_a: X:1\n", "noid.obo")
    assert "noid.obo, line 3" in msg and "has no id" in msg
    msg = error_of(b"format-version: 1.2\n[Typedef]\nid: part_of\n", "noterm.obo")
    assert "no [Term] stanzas" in msg
    msg = error_of(b"[Term]\nid: A\n[Term]\nid: B\nis_obsolete: true\nis_a: A\n", "lonely.obo")
    assert "1 node but no edges" in msg


def test_format_is_sniffed_for_unknown_extensions():
    obo = (FIXTURES / "mini.obo").read_bytes()
    assert parse_upload(obo, "ontology.dat").n == 7
    assert parse_upload(b'  {"name": "A", "children": [{"name": "B"}]}', "upload").n == 2
    assert parse_upload(b"b;a\nc;a\n", "upload.bin").n == 3


# ----- fixtures and entry points ------------------------------------------------------
def test_taxonomy_fixture_against_a_plain_reading():
    import csv
    path = FIXTURES / "taxonomy.csv"
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))[1:]
    expected = {(r[0], r[1]) for r in rows if len(r) == 2}
    h = load_source(str(path))
    assert edges_of(h) == expected
    assert h.n == len({x for r in rows for x in r}) and 20 <= h.n <= 40
    assert h.max_depth >= 3 and (h.n_parents >= 2).sum() >= 3
    assert any("," in name for name in h.names)
    assert [h.names[r] for r in h.roots] == ["Products"]


def test_load_file_missing_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_file(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="a folder, not a hierarchy file"):
        load_file(tmp_path)


def test_wordnet_as_an_uploaded_tsv_gz_matches_the_builtin_source():
    raw = (ROOT / "data" / "wordnet_nouns_edges.tsv.gz").read_bytes()
    h = parse_upload(raw, "wordnet_edges.tsv.gz")
    assert h.info() == load_source("wordnet").info()


# ----- warnings, repeated names, prose (issue 26) ------------------------------------------
def kinds(h) -> dict:
    return {w.kind: w for w in h.warnings}


MEETING_NOTES = (b"Meeting notes 12 March: discussed the roadmap with Anna and Tom.\n"
                 b"Action items: Tom to send the budget; Anna reviews the draft by Friday.\n"
                 b"Next meeting on Tuesday, room 4.\n")


@pytest.mark.parametrize("data", [
    MEETING_NOTES,  # an "edge" from the ';' in the second sentence: 4 nodes, 3 roots before
    b"Meeting notes 12 March\nDiscussed the roadmap with Anna and Tom\nTom to send the budget; Anna reviews it\n",
    b"We met today; nothing was decided.\nBob left early; Anna stayed until six.\n",
])
def test_a_file_that_reads_as_prose_is_refused_in_one_line(data):
    msg = error_of(data, "notes.txt")
    assert msg.startswith("notes.txt: this reads as prose, not as a hierarchy: ") and "\n" not in msg
    assert "child,parent" in msg and len(msg) < 250


@pytest.mark.parametrize("data, name", [
    (b"Running shoes for kids.,Shoes\nShoes,Products\n", "x.csv"),  # one sentence-like name is allowed
    (b"positive regulation of transcription by RNA polymerase II\tregulation of transcription\n", "go.tsv"),
    (b"A\nB\nC\nB,A\nC,A\n", "x.csv"),  # node declarations without a delimiter, short names
])
def test_long_or_odd_names_are_not_prose(data, name):
    assert parse_upload(data, name).n >= 2


def test_isolated_nodes_and_several_roots_are_warned_with_counts_and_examples():
    h = parse_upload(b"b,a\nc,a\nlonely\nalone\ny,x\n", "w.csv")
    w = kinds(h)
    assert set(w) == {"isolated", "roots"}
    assert (w["isolated"].count, w["isolated"].examples) == (2, ("lonely", "alone"))
    assert "2 isolated nodes (no parent, no child): 'lonely', 'alone'" in str(w["isolated"])
    assert w["roots"].count == 4 == len(h.roots) and w["roots"].examples == ("a", "lonely", "alone")
    assert "4 roots" in w["roots"].message and "and 1 more" in w["roots"].message
    assert w["roots"].as_dict() == {"kind": "roots", "count": 4, "examples": ["a", "lonely", "alone"],
                                    "message": w["roots"].message}
    assert parse_upload(b"b,a\nc,b\n", "tree.csv").warnings == []
    assert load_file(FIXTURES / "mini.obo").warnings == []  # OBO ids: several is_a are a DAG, not a merge
    assert load_source("tree:H=3,W=2").warnings == []


def other_under_18() -> bytes:
    """18 categories with an 'Other' each: 18 things that share one name."""
    return ("child,parent\n" + "".join(f"Cat{i},Root\nOther,Cat{i}\n" for i in range(18))).encode()


def test_merged_duplicate_names_are_warned_and_can_be_kept_apart_by_parent():
    merged = parse_upload(other_under_18(), "shop.csv")
    assert merged.n == 20 and not merged.is_tree  # one node with 18 parents
    w = kinds(merged)["merged_names"]
    assert (w.count, w.examples) == (1, ("Other",))
    assert "under 18 parents" in w.message and "'Cat0', 'Cat1', 'Cat2' and 15 more" in w.message
    assert "keep them apart by their parent" in w.message
    apart = parse_upload(other_under_18(), "shop.csv", duplicates="by-parent")
    assert apart.n == 37 and apart.is_tree and len(apart.roots) == 1
    assert ("Other (Cat3)", "Cat3") in edges_of(apart) and "Other" not in apart.index
    w = kinds(apart)
    assert set(w) == {"kept_apart"} and w["kept_apart"].count == 1
    assert "18 nodes" in w["kept_apart"].message and "'Other (Cat0)'" in w["kept_apart"].message
    with pytest.raises(InputError, match="duplicates is 'merge'"):
        parse_upload(other_under_18(), "shop.csv", duplicates="apart")


def test_kept_apart_in_a_json_tree_keeps_each_copy_with_its_own_children():
    tree = {"name": "R", "children": [
        {"name": "a", "children": [{"name": "x", "children": [{"name": "y"}]}]},
        {"name": "b", "children": [{"name": "x", "children": [{"name": "z"}, {"name": "y"}]}]}]}
    data = json.dumps(tree).encode()
    assert edges_of(parse_upload(data, "t.json")) >= {("x", "a"), ("x", "b"), ("y", "x"), ("z", "x")}
    h = parse_upload(data, "t.json", duplicates="by-parent")
    assert edges_of(h) == {("a", "R"), ("b", "R"), ("x (a)", "a"), ("x (b)", "b"), ("y (x (a))", "x (a)"),
                           ("y (x (b))", "x (b)"), ("z", "x (b)")}
    assert h.is_tree
    w = kinds(h)["kept_apart"]
    assert w.count == 1 and w.examples == ("x",) and "'y'" in w.message  # y copied with its parent


def test_kept_apart_in_an_edge_list_copies_the_children_and_refuses_a_blow_up():
    h = parse_upload(b"x,a\nx,b\ny,x\na,R\nb,R\n", "e.csv", duplicates="by-parent")
    assert edges_of(h) == {("a", "R"), ("b", "R"), ("x (a)", "a"), ("x (b)", "b"),
                           ("y (x (a))", "x (a)"), ("y (x (b))", "x (b)")}
    assert "does not say which one" in kinds(h)["kept_apart"].message
    # a name that already exists is not taken over by a copy
    h = parse_upload(b"x,a\nx,b\nx (a),c\n", "e.csv", duplicates="by-parent")
    assert {"x (a)", "x (a) [2]", "x (b)"} <= set(h.names) and len(h.names) == len(set(h.names))
    # a DAG by design: each level doubles the copies below it
    rows = "".join(f"n{k + 1},n{k}\nn{k + 1},m{k}\nm{k + 1},n{k}\nm{k + 1},m{k}\n" for k in range(16))
    msg = error_of(rows.encode(), "dag.csv", duplicates="by-parent")
    assert "keeping names apart by their parent would make more than" in msg and "merge" in msg


def test_a_kept_apart_hierarchy_reloads_the_same_from_its_json():
    from hrviz.sources import hierarchy_json

    data = ("child,parent,label,description\n" + "".join(
        f"Cat{i},Root,Category {i},\nOther,Cat{i},Other things,misc\n" for i in range(5))).encode()
    for how in ("merge", "by-parent"):
        h = parse_upload(data, "shop.csv", duplicates=how)
        back = parse_upload(hierarchy_json(h).encode(), "shop.json")
        assert back.hash == h.hash and back.labels == h.labels and back.descriptions == h.descriptions


@pytest.mark.parametrize("magic, kind", [(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
                                         (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"),
                                         (b"%PDF-1.7\n%\xe2\xe3", "a PDF document")])
def test_a_picture_or_document_is_named_in_words(magic, kind):
    msg = error_of(magic + b"\x00" * 50, "photo.csv")
    assert msg.startswith(f"photo.csv: this is {kind}, not a text file")


def test_cli_info_shows_the_warnings(tmp_path, capsys):
    from hrviz.cli import main

    path = tmp_path / "w.csv"
    path.write_bytes(b"b,a\nc,a\nlonely\nc,d\n")
    assert main(["info", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["nodes"] == 5
    assert [(w["kind"], w["count"]) for w in out["warnings"]] == [("merged_names", 1), ("isolated", 1), ("roots", 3)]
    assert out["warnings"][1]["examples"] == ["lonely"]
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "warning: 1 isolated node" in text and "warning: 3 roots" in text
    assert main(["info", "tree:H=3,W=2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip())["warnings"] == []


def test_company_names_with_abbreviations_are_not_sentences():
    h = parse_upload(b"Acme Widgets Inc.,Suppliers\nBeta Tools Holding Co.,Suppliers\nSuppliers,Root\n", "s.csv")
    assert h.n == 4
