"""The frozen text encoders themselves: hashing, WordLlama, model2vec, sentence-transformers.

:func:`get_encoder` turns a name (see :data:`ENCODERS`) into a loaded :class:`TextEncoder`, once
per process; :func:`available_encoders` says which can load here without loading them. Nothing
downloads: a missing package or model file is an :class:`InputError` that says what is missing,
where it was looked for and how to install it. Node text and zero-shot evaluation: :mod:`hrviz.models.text`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import zlib
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import InputError

ROOT = Path(__file__).resolve().parents[2]
#: where the shipped model2vec model lives (``HRVIZ_MODEL2VEC`` overrides)
MODEL2VEC_DIR = ROOT / "data" / "model2vec-minilm"

ENCODERS = {
    "hashing": "character 2-4-gram hashing, no model files (tests; not semantic)",
    "wordllama": "WordLlama l2_supercat, 256-d static embeddings shipped in the wordllama wheel",
    "model2vec": "static model distilled from all-MiniLM-L6-v2, 256-d, shipped in data/",
    "sentence-transformers:MODEL": "any sentence-transformers model already on disk",
}


@runtime_checkable
class TextEncoder(Protocol):
    """What hrviz needs of a text encoder.

    Attributes: ``name`` (str, the spec that rebuilds it), ``dim`` (int, the output width),
    ``key`` (str, what the embedding cache is keyed by: name plus model identity).
    """

    name: str
    dim: int
    key: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """float32 ``(len(texts), dim)``; rows are not necessarily unit vectors."""
        ...


# ----- encoders -----------------------------------------------------------------
class HashingEncoder:
    """Signed character n-gram hashing (n in ``ngrams``) into ``dim`` buckets, unit rows.

    Deterministic everywhere (CRC32, not Python's salted ``hash``). Shares of n-grams make
    "dog" and "dogs" close; meaning does not. For tests and as a no-files baseline.
    """

    def __init__(self, dim: int = 256, ngrams: tuple[int, ...] = (2, 3, 4)):
        if dim < 2:
            raise InputError(f"hashing dim must be at least 2, got {dim}", hint="hashing:dim=256")
        self.dim = int(dim)
        self.ngrams = tuple(ngrams)
        self.name = "hashing" if dim == 256 else f"hashing:dim={dim}"
        self.key = f"hashing-v1:dim={dim}:ngrams={','.join(map(str, self.ngrams))}"

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for r, text in enumerate(texts):
            s = f" {text.lower()} "
            for n in self.ngrams:
                for j in range(len(s) - n + 1):
                    c = zlib.crc32(s[j:j + n].encode("utf-8"))
                    out[r, c % self.dim] += 1.0 if (c >> 31) & 1 else -1.0
        norm = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norm, 1e-12)


def _missing(what: str, where: str, hint: str) -> InputError:
    return InputError(f"the {what} text encoder is not available", where=where, hint=hint)


class WordLlamaEncoder:
    """WordLlama (``l2_supercat``, 256-d), from the weights inside the installed wheel."""

    def __init__(self, dim: int = 256):
        try:
            import wordllama
            from wordllama import WordLlama
        except ImportError:
            raise _missing("wordllama", "python package 'wordllama'",
                           "pip install wordllama==0.4.0.post1 (its wheel ships the weights)") from None
        pkg = Path(wordllama.__file__).parent
        if not (pkg / "weights" / "l2_supercat_256.safetensors").is_file():
            raise _missing("wordllama", str(pkg / "weights"), "reinstall wordllama==0.4.0.post1: its weights file is gone")
        self._wl = WordLlama.load(cache_dir=pkg, disable_download=True, dim=dim)
        self.dim = int(dim)
        self.name = "wordllama"
        self.key = f"wordllama-{getattr(wordllama, '__version__', '?')}:l2_supercat:{dim}"

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._wl.embed(list(texts), norm=False, batch_size=512), dtype=np.float32)


class Model2VecEncoder:
    """A model2vec static model from a local folder (default: the shipped MiniLM distillation)."""

    def __init__(self, path: str | Path | None = None):
        path = Path(path or os.environ.get("HRVIZ_MODEL2VEC") or MODEL2VEC_DIR)
        try:
            from model2vec import StaticModel
        except ImportError:
            raise _missing("model2vec", "python package 'model2vec'", "pip install model2vec==0.10.0") from None
        if not (path / "model.safetensors").is_file():
            raise _missing("model2vec", str(path),
                           "the model folder needs model.safetensors: run `make model2vec` to build it "
                           "(scripts/build_model2vec.py), or set HRVIZ_MODEL2VEC to a model2vec folder")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self._m = StaticModel.from_pretrained(str(path))
        self.dim = int(self._m.dim)
        self.name = "model2vec"
        h = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()[:12]
        self.key = f"model2vec:{h}"

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._m.encode(list(texts), batch_size=1024, show_progress_bar=False), dtype=np.float32)


class SentenceTransformerEncoder:
    """Any sentence-transformers model already on disk (never downloaded here)."""

    def __init__(self, model: str):
        if not model:
            raise InputError("sentence-transformers needs a model name or folder",
                             hint="--encoder sentence-transformers:all-MiniLM-L6-v2 or sentence-transformers:/path/to/model")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise _missing(f"sentence-transformers:{model}", "python package 'sentence-transformers'",
                           "pip install sentence-transformers (and have the model on disk), "
                           "or use --encoder wordllama / model2vec") from None
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            self._m = SentenceTransformer(model, device="cpu", local_files_only=True)
        except Exception as e:  # the library's errors differ by version: say what matters
            raise _missing(f"sentence-transformers:{model}", model,
                           f"the model is not on disk ({type(e).__name__}); give a local model folder, "
                           "hrviz never downloads models") from None
        self.dim = int(self._m.get_sentence_embedding_dimension())
        self.name = f"sentence-transformers:{model}"
        self.key = f"st:{model}:{self.dim}"

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._m.encode(list(texts), batch_size=256, convert_to_numpy=True), dtype=np.float32)


_LOADED: dict[str, TextEncoder] = {}


def get_encoder(spec: str) -> TextEncoder:
    """The encoder a name stands for (see :data:`ENCODERS`); loaded once per process.

    Raises InputError for an unknown name or an encoder that is not installed.
    """
    if isinstance(spec, (HashingEncoder, WordLlamaEncoder, Model2VecEncoder, SentenceTransformerEncoder)):
        return spec
    spec = (spec or "").strip()
    if spec in _LOADED:
        return _LOADED[spec]
    kind, _, arg = spec.partition(":")
    if kind == "hashing":
        dim = 256
        if arg:
            m = re.fullmatch(r"dim=(\d+)", arg)
            if not m:
                raise InputError(f"bad hashing encoder options {arg!r}", hint="hashing or hashing:dim=256")
            dim = int(m.group(1))
        enc: TextEncoder = HashingEncoder(dim)
    elif kind == "wordllama" and not arg:
        enc = WordLlamaEncoder()
    elif kind == "model2vec":
        enc = Model2VecEncoder(arg or None)
    elif kind in ("sentence-transformers", "st"):
        enc = SentenceTransformerEncoder(arg)
    else:
        raise InputError(f"unknown text encoder {spec!r}", hint=f"choose one of {', '.join(ENCODERS)}")
    _LOADED[spec] = enc
    return enc


def available_encoders() -> dict[str, bool]:
    """Which bundled encoders can load here (name -> bool), without loading the heavy ones."""
    return {"hashing": True,
            "wordllama": importlib.util.find_spec("wordllama") is not None,
            "model2vec": importlib.util.find_spec("model2vec") is not None
            and (Path(os.environ.get("HRVIZ_MODEL2VEC") or MODEL2VEC_DIR) / "model.safetensors").is_file(),
            "sentence-transformers": importlib.util.find_spec("sentence_transformers") is not None}
