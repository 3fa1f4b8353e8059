"""Frozen text encoders: node text -> vectors, offline, and zero-shot evaluation.

A :class:`TextEncoder` maps a list of strings to a float32 array ``(n, dim)``. Kinds
(:func:`get_encoder` takes one of these names):

- ``hashing`` (``hashing:dim=256``): character n-gram hashing (n = 2..4 of the lower-cased text,
  framed by spaces, signed buckets via CRC32). No files, fully deterministic across processes and
  machines: the unit tests' encoder. Not a semantic model.
- ``wordllama``: WordLlama ``l2_supercat`` 256-d static token embeddings, whose weights ship in the
  ``wordllama`` wheel; loaded with ``disable_download=True`` (the plain load tries the network).
- ``model2vec``: a static model distilled from all-MiniLM-L6-v2 with model2vec (256-d), shipped
  in ``data/model2vec-minilm/`` with its licence (``scripts/build_model2vec.py`` rebuilds it).
- ``sentence-transformers:MODEL`` (or ``st:MODEL``): any sentence-transformers model that is
  already on disk (a local folder or a cached hub id), loaded with ``local_files_only``; only
  when the user has sentence-transformers installed.

Nothing downloads at run time: a missing package or model file is an :class:`InputError`
saying what is missing, where it was looked for and how to install it.

Node text (:func:`node_texts`): WordNet nodes read "first lemma: gloss"; uploaded nodes their
label and description ("label: description"); a node without text falls back to its cleaned
name (``_`` -> space, ``.n.01``-style suffixes removed).

Zero-shot (:func:`zero_shot`): every node's text is embedded once (cached on disk, keyed by the
encoder and a hash of the texts, :func:`embed_texts`), unit-normalised, and used as both the
query and the document vector: the score is the cosine. Evaluation is hrviz's exact evaluator.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..evaluate import evaluate
from ..hierarchy import Hierarchy
from .text_encoders import TextEncoder, get_encoder


class _DefaultCache:
    """The ``cache_dir`` default: :func:`default_cache_dir`, looked up at call time."""

    def __repr__(self) -> str:
        return "<default cache: $HRVIZ_CACHE/text or cache/text beside the results store>"


#: ``cache_dir=CACHE_DIR`` (the default everywhere) means :func:`default_cache_dir`; None: no cache
CACHE_DIR = _DefaultCache()


def default_cache_dir() -> Path:
    """Where node embeddings are cached: ``$HRVIZ_CACHE/text`` when set, else ``cache/text`` beside
    the results store (``$HRVIZ_DB`` or the store's default, ``results/hrviz.duckdb``), as the
    app's UMAP cache (``cache/umap``). Never inside the installed package."""
    from ..store import DEFAULT_DB

    if os.environ.get("HRVIZ_CACHE"):
        return Path(os.environ["HRVIZ_CACHE"]).expanduser() / "text"
    return Path(os.environ.get("HRVIZ_DB") or DEFAULT_DB).expanduser().parent / "cache" / "text"


def resolve_cache_dir(cache_dir) -> Path | None:
    """``cache_dir`` as given (None: off), the default one for :data:`CACHE_DIR`."""
    return default_cache_dir() if isinstance(cache_dir, _DefaultCache) else (None if cache_dir is None else Path(cache_dir))


#: longest free text accepted (characters); node texts longer than this are cut, not refused
MAX_TEXT_CHARS = 10_000

# ----- text checks ------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SPACE = re.compile(r"\s+")


def check_text(text, *, where: str = "text") -> str:
    """A user's free text, checked and normalised (NFC, whitespace collapsed), or an InputError.

    Refused: a non-string, empty or blank text, one longer than :data:`MAX_TEXT_CHARS`, and
    control characters other than tab and newline (which read as spaces).
    """
    if not isinstance(text, str):
        raise InputError(f"text must be a string, got {type(text).__name__}", where=where,
                         hint="pass the words to embed, e.g. \"golden retriever puppy\"")
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(f"text is too long: {len(text):,} characters (at most {MAX_TEXT_CHARS:,})",
                         where=where, hint="shorten it to a title, a term or a short description")
    bad = _CONTROL.search(text)
    if bad:
        raise InputError(f"text holds a control character U+{ord(bad.group()):04X} at position {bad.start()}",
                         where=where, hint="remove control characters (only tabs and newlines are allowed)")
    clean = _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()
    if not clean:
        raise InputError("text is empty", where=where, hint="type a few words to embed")
    return clean


def check_texts(texts, *, where: str = "texts") -> list[str]:
    """:func:`check_text` on every item; the error names the item's index."""
    if isinstance(texts, str):
        texts = [texts]
    if texts is None or len(texts) == 0:
        raise InputError("no text to embed", where=where, hint="pass at least one text")
    return [check_text(t, where=f"{where}[{i}]") for i, t in enumerate(texts)]


def _clean_node_text(text: str) -> str:
    """Node text from a validated source: control characters dropped, whitespace collapsed, cut."""
    text = _SPACE.sub(" ", _CONTROL.sub(" ", unicodedata.normalize("NFC", text))).strip()
    return text[:MAX_TEXT_CHARS]


# ----- node text ----------------------------------------------------------------
_SENSE = re.compile(r"\.[a-z]\.\d+$")


def clean_name(name: str) -> str:
    """A node name as words: ``golden_retriever.n.01`` -> ``golden retriever``."""
    text = _SENSE.sub("", name).replace("_", " ")
    return _clean_node_text(text) or name


def node_texts(h: Hierarchy, style: str = "label-description") -> list[str]:
    """One text per node of ``h``.

    style: str (optional, default "label-description"). ``"label-description"``: "label:
    description" when the node has a description (WordNet: first lemma and gloss); ``"label"``:
    the label alone (WordNet: the first lemma). A node without label falls back to
    :func:`clean_name`; a text that cleans to nothing does too.
    """
    if style not in ("label-description", "label"):
        raise InputError(f"unknown node text style {style!r}", hint="use label-description or label")
    wordnet = h.source.startswith("wordnet")
    out = []
    for i, name in enumerate(h.names):
        label = _clean_node_text(h.labels[i]) if h.labels and h.labels[i] else ""
        if wordnet and label:  # WordNet labels list the synset's lemmas: keep the first
            label = label.split(",")[0].strip()
        label = label or clean_name(name)
        desc = _clean_node_text(h.descriptions[i]) if style != "label" and h.descriptions and h.descriptions[i] else ""
        out.append(f"{label}: {desc}"[:MAX_TEXT_CHARS] if desc else label)
    return out


# ----- embedding with a cache ---------------------------------------------------
def _normalize(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def embed_texts(encoder: TextEncoder | str, texts: list[str], *, cache_dir: str | Path | None = CACHE_DIR,
                normalize: bool = True) -> np.ndarray:
    """float32 ``(len(texts), dim)`` embeddings of ``texts``, cached as ``.npy`` under ``cache_dir``.

    The cache file is named by a hash of the encoder's ``key`` and the texts, so a changed
    text, model or encoder version never reads stale vectors. ``cache_dir=None`` disables it;
    the default is :func:`default_cache_dir` (``$HRVIZ_CACHE/text``).
    ``normalize``: unit rows (the cosine convention).
    """
    enc = get_encoder(encoder)
    path = None
    cache_dir = resolve_cache_dir(cache_dir)
    if cache_dir is not None:
        digest = hashlib.sha256(enc.key.encode() + b"\0" + "\n".join(texts).encode("utf-8")).hexdigest()[:24]
        path = Path(cache_dir) / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', enc.name)[:40]}-{digest}.npy"
        if path.is_file():
            x = np.load(path)
            if x.shape == (len(texts), enc.dim):
                return _normalize(x) if normalize else x
    x = np.zeros((0, enc.dim), np.float32) if not texts else enc.encode(list(texts)).astype(np.float32, copy=False)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, x)
        os.replace(tmp, path)
    return _normalize(x) if normalize else x


def encode_free_text(encoder: TextEncoder | str, texts, *, normalize: bool = True) -> np.ndarray:
    """A user's free text(s), checked (:func:`check_texts`) and embedded (no cache)."""
    clean = check_texts(texts)
    x = get_encoder(encoder).encode(clean).astype(np.float32, copy=False)
    return _normalize(x) if normalize else x


def node_features(h: Hierarchy, encoder: TextEncoder | str, *, style: str = "label-description",
                  cache_dir: str | Path | None = CACHE_DIR) -> np.ndarray:
    """Unit-normalised encoder features of every node's text: float32 ``(h.n, dim)``."""
    return embed_texts(encoder, node_texts(h, style), cache_dir=cache_dir)


# ----- zero-shot ------------------------------------------------------------------
@dataclass
class ZeroShot:
    """A zero-shot evaluation: the encoder, the node vectors (query = document) and the result."""

    encoder: str
    vectors: np.ndarray
    evaluation: object
    embed_seconds: float
    seconds: float

    def summary(self) -> dict:
        out = {"recipe": "zero-shot", "encoder": self.encoder, "dim": int(self.vectors.shape[1])}
        out.update(self.evaluation.summary())
        out.update(embed_seconds=self.embed_seconds, seconds=self.seconds)
        return out


def zero_shot(h: Hierarchy, encoder: TextEncoder | str, *, max_distance: int | None = 8, k="auto",
              style: str = "label-description", cache_dir: str | Path | None = CACHE_DIR,
              queries: np.ndarray | None = None, ranks: bool = True) -> ZeroShot:
    """Evaluate ``encoder`` zero-shot on ``h``: cosine of node texts, query = document, exact.

    Args:
        h: Hierarchy. encoder: a name (:func:`get_encoder`) or an encoder.
        max_distance: int (optional, default 8; the paper's WordNet cap). None: all ancestors.
        k: "auto" or int (optional, default "auto"): recall@|S(q)|.
        style: node text style (:func:`node_texts`). cache_dir: embedding cache (None: off).
        queries: node ids to evaluate (optional, default all). ranks: also mean rank and MAP.
    """
    t0 = time.perf_counter()
    enc = get_encoder(encoder)
    x = node_features(h, enc, style=style, cache_dir=cache_dir)
    t_embed = time.perf_counter() - t0
    ev = evaluate(x, x, h.closure(max_distance), k=k, queries=queries, ranks=ranks)
    return ZeroShot(enc.name, x, ev, t_embed, time.perf_counter() - t0)


def search_text(encoder: TextEncoder | str, text: str, doc_vecs: np.ndarray, k: int = 20,
                query_head=None) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` documents for a free text: (doc ids, scores), best first.

    Zero-shot: the text's unit embedding against ``doc_vecs`` (cosine when those are unit). With
    a trained tower pass ``query_head`` (a callable from features (1, D) to query vectors), e.g.
    :meth:`hrviz.models.text_tower.TextTower.query_from_features`.
    """
    q = encode_free_text(encoder, [text])
    if query_head is not None:
        q = np.asarray(query_head(q), dtype=np.float32)
    s = doc_vecs.astype(np.float32, copy=False) @ q[0]
    k = max(1, min(int(k), len(s)))
    top = np.argpartition(-s, k - 1)[:k]
    top = top[np.argsort(-s[top], kind="stable")]
    return top, s[top]
