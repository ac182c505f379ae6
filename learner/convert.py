"""The embedded model as a trainable Hugging Face checkpoint, converted once from the GGUF.

transformers reads the bundled Gemma 3 270M GGUF (``gguf_file=``) and dequantizes every
tensor to float32; that takes a minute or more on two cores, so the result is saved once per
machine as a normal safetensors checkpoint (with its tokenizer), linked into
``<data_dir>/models/hf-base/`` and reused by every training run. Directories are written
under a temporary name and renamed, so a process killed half way leaves nothing that looks
finished.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from collections.abc import Callable
from typing import Any

import structlog

from nl2sql.models import bundled_gguf

log = structlog.get_logger("askgres.learner.convert")

HF_BASE = "hf-base"
_MARKER = "askgres-convert.json"


def hf_base_dir(data_dir: Path) -> Path:
    """Where the converted checkpoint lives (it may not exist yet)."""
    return Path(data_dir) / "models" / HF_BASE


def is_converted(path: Path) -> bool:
    """Whether ``path`` holds a finished conversion (the marker is written last)."""
    return (path / _MARKER).is_file() and (path / "config.json").is_file()


def ensure_hf_base(data_dir: Path, *, gguf_path: Path | None = None, target: Path | None = None) -> Path:
    """The base model as a Hugging Face checkpoint directory, converting it on first use.

    ``gguf_path`` defaults to the bundled GGUF (assembled under ``data_dir/models/base``);
    ``target`` to :func:`hf_base_dir` (a promoted model's conversion goes beside its GGUF).
    The bundled base is converted once per machine (in :func:`nl2sql.models.cache_dir`) and
    its files linked into ``target``.
    """
    from nl2sql.models import cache_dir, link_tree, shared_original

    target = Path(target) if target is not None else hf_base_dir(data_dir)
    if is_converted(target):
        return target
    source = Path(gguf_path) if gguf_path is not None else bundled_gguf(Path(data_dir))
    shared = shared_original(source)
    if shared is not None:
        try:
            cached = _converted(shared, cache_dir() / HF_BASE / shared.parent.name, convert_gguf)
            return _converted(cached, target, link_tree)
        except OSError as e:
            log.warning("learner.cache_unusable", path=str(cache_dir()), error=str(e))
    return _converted(source, target, convert_gguf)


def _converted(source: Path, target: Path, make: Callable[[Path, Path], None]) -> Path:
    """``target`` as ``make(source, <new directory>)`` leaves it, unless it is there already:
    written under a temporary name and renamed (a killed process leaves nothing finished)."""
    if is_converted(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp.chmod(0o755)
    try:
        make(source, tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process finished first (or a stale, unfinished directory is in the way).
            if is_converted(target):
                return target
            shutil.rmtree(target, ignore_errors=True)
            os.rename(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("learner.converted", source=str(source), path=str(target))
    return target


def convert_gguf(gguf_path: Path, out_dir: Path) -> None:
    """Dequantize ``gguf_path`` into a float32 safetensors checkpoint plus tokenizer in ``out_dir``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    clear_gguf_quantizer(model)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    meta = {"source": str(gguf_path), "size": gguf_path.stat().st_size, "dtype": "float32"}
    (Path(out_dir) / _MARKER).write_text(json.dumps(meta) + "\n")


def clear_gguf_quantizer(model: Any) -> None:
    """Forget that ``model`` came from a GGUF file.

    transformers keeps a ``GgufHfQuantizer`` on a model loaded with ``gguf_file=`` (even when
    every tensor was dequantized), and ``save_pretrained`` refuses a quantized model whose
    quantizer is not serializable. The weights are plain float tensors by now, so dropping
    the quantizer and the ``quantization_config`` is all a normal checkpoint needs.
    """
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
