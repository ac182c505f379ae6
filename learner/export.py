"""A fine-tuned adapter as a GGUF file that llama.cpp (and Ollama) load as they are.

The export patches the base GGUF rather than converting a Hugging Face checkpoint: every
metadata key (tokenizer, chat template, architecture) and every tensor the adapter does not
touch is copied byte for byte; each LoRA-targeted weight is dequantized, gets its update
``scale * B @ A`` added, and is written as Q8_0 (fine enough that the update survives,
small enough to stay fast). Gemma 3's projections are stored in the GGUF in the same
orientation as in transformers (``[out_features, in_features]`` as a numpy array; the
loader only offsets the norm weights, which LoRA does not touch), so no permutation is
needed. The result is one self-contained ``model.gguf``: the gateway loads it like the
base model, and a ``Modelfile`` next to it lets Ollama users ``ollama create`` it.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog

log = structlog.get_logger("askgres.learner.export")

HF_TO_GGUF = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
"""transformers module path (inside ``model.layers.{i}``) -> GGUF tensor name (inside ``blk.{i}``)."""

_LORA_KEY = re.compile(r"(?:^|\.)layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)\.lora_([AB])(?:\.[^.]+)?\.weight$")


@dataclass(frozen=True)
class LoraDelta:
    """One adapted weight: ``W + scale * B @ A`` with ``A: [r, in]`` and ``B: [out, r]``."""

    a: np.ndarray
    b: np.ndarray
    scale: float

    def delta(self) -> np.ndarray:
        return (self.b.astype(np.float32) @ self.a.astype(np.float32)) * np.float32(self.scale)

    @property
    def is_zero(self) -> bool:
        return not np.any(self.b) or not np.any(self.a)


def read_adapter(adapter_dir: Path) -> dict[str, LoraDelta]:
    """The adapter's updates keyed by GGUF tensor name (``blk.3.attn_q.weight``)."""
    from safetensors.numpy import load_file

    adapter_dir = Path(adapter_dir)
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    if config.get("use_dora"):
        raise ValueError("DoRA adapters cannot be merged by this exporter")
    r = int(config["r"])
    alpha = float(config.get("lora_alpha", r))
    scale = alpha / (r**0.5) if config.get("use_rslora") else alpha / r
    rank_pattern: dict[str, int] = config.get("rank_pattern") or {}
    alpha_pattern: dict[str, float] = config.get("alpha_pattern") or {}
    if rank_pattern or alpha_pattern:
        raise ValueError("adapters with per-module rank or alpha patterns are not supported")
    weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    parts: dict[str, dict[str, np.ndarray]] = {}
    for key, value in weights.items():
        m = _LORA_KEY.search(key)
        if m is None:
            raise ValueError(f"unexpected tensor in adapter: {key}")
        layer, module, which = m.groups()
        name = f"blk.{int(layer)}.{HF_TO_GGUF[module]}.weight"
        parts.setdefault(name, {})[which] = value
    deltas: dict[str, LoraDelta] = {}
    for name, ab in parts.items():
        if set(ab) != {"A", "B"}:
            raise ValueError(f"adapter tensor {name} lacks lora_A or lora_B")
        deltas[name] = LoraDelta(a=ab["A"], b=ab["B"], scale=scale)
    return deltas


def export_gguf(adapter_dir: Path, *, base_gguf: Path, out_path: Path) -> Path:
    """Merge the adapter in ``adapter_dir`` into ``base_gguf`` and write ``out_path`` (atomically)."""
    deltas = read_adapter(Path(adapter_dir))
    layout = read_layout(Path(base_gguf))
    names = {t.name for t in layout.tensors}
    missing = sorted(set(deltas) - names)
    if missing:
        raise ValueError(f"adapter targets tensors the base GGUF lacks: {missing[:3]}")

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    merged = 0
    try:
        with open(base_gguf, "rb") as src, mmap.mmap(src.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            blobs: list[tuple[TensorInfo, bytes | memoryview]] = []
            for info in layout.tensors:
                raw = memoryview(mm)[layout.data_start + info.offset : layout.data_start + info.offset + info.nbytes]
                d = deltas.get(info.name)
                if d is None or d.is_zero:
                    blobs.append((info, raw))
                    continue
                qtype, data = _merge(info, raw, d)
                blobs.append((TensorInfo(info.name, info.dims, qtype, 0, len(data)), data))
                merged += 1
            with open(tmp, "wb") as out:
                _write(out, mm, layout, blobs)
                out.flush()
                os.fsync(out.fileno())
            for _, blob in blobs:  # release views into the map before it closes
                if isinstance(blob, memoryview):
                    blob.release()
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("export.done", path=str(out_path), merged=merged, size=out_path.stat().st_size)
    return out_path


# --------------------------------------------------------------------------- GGUF layout (v3)
#
# header: magic u32, version u32, tensor_count u64, kv_count u64; then the key/value pairs;
# then per tensor: name (u64 length + bytes), n_dims u32, dims u64[n_dims], type u32,
# offset u64 (from the start of the data section); the data section starts at the next
# multiple of ``general.alignment`` (32 by default) and every tensor's offset is aligned.
# The key/value bytes are copied verbatim: parsing the 262k-token vocabulary into Python
# objects (``gguf.GGUFReader``) and writing it back costs half a minute; skipping it, well
# under a second.

_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dims: tuple[int, ...]
    """ggml order: ``dims[0]`` is the row length (``in_features``)."""
    qtype: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class GgufLayout:
    version: int
    kv_count: int
    kv_end: int
    """Byte offset where the key/value section ends (and tensor infos begin)."""
    alignment: int
    tensors: list[TensorInfo]
    data_start: int


def read_layout(path: Path) -> GgufLayout:
    """Where everything is in a GGUF v2/v3 file, without decoding the metadata values."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        magic, version, n_tensors, n_kv = struct.unpack_from("<IIQQ", mm, 0)
        if magic != 0x46554747 or version < 2:
            raise ValueError(f"{path}: not a GGUF v2+ file")
        pos = 24
        alignment = 32

        def string(p: int) -> tuple[str, int]:
            (n,) = struct.unpack_from("<Q", mm, p)
            return mm[p + 8 : p + 8 + n].decode("utf-8"), p + 8 + n

        for _ in range(n_kv):
            key, pos = string(pos)
            (vtype,) = struct.unpack_from("<I", mm, pos)
            pos += 4
            if key == "general.alignment" and vtype == 4:
                (alignment,) = struct.unpack_from("<I", mm, pos)
            pos = skip_value(mm, pos, vtype)
        kv_end = pos
        tensors = []
        for _ in range(n_tensors):
            name, pos = string(pos)
            (n_dims,) = struct.unpack_from("<I", mm, pos)
            dims = struct.unpack_from(f"<{n_dims}Q", mm, pos + 4)
            qtype, offset = struct.unpack_from("<IQ", mm, pos + 4 + 8 * n_dims)
            pos += 4 + 8 * n_dims + 12
            block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(qtype)]
            n = math.prod(dims)
            tensors.append(TensorInfo(name, tuple(dims), qtype, offset, n // block * type_size))
        data_start = _align(pos, alignment)
    return GgufLayout(version, n_kv, kv_end, alignment, tensors, data_start)


def skip_value(mm: mmap.mmap, p: int, vtype: int) -> int:
    """The offset just past a metadata value of type ``vtype`` that starts at ``p``."""
    if vtype == _STRING:
        (n,) = struct.unpack_from("<Q", mm, p)
        return p + 8 + n
    if vtype == _ARRAY:
        etype, count = struct.unpack_from("<IQ", mm, p)
        p += 12
        if etype in _SCALAR_SIZES:
            return p + count * _SCALAR_SIZES[etype]
        for _ in range(count):
            p = skip_value(mm, p, etype)
        return p
    return p + _SCALAR_SIZES[vtype]


def _align(n: int, alignment: int) -> int:
    return (n + alignment - 1) // alignment * alignment


def tensor_array(info: TensorInfo, raw: bytes | memoryview) -> np.ndarray:
    """The tensor as ``gguf.quants.dequantize`` expects it: rows of raw blocks (numpy order)."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(info.qtype)]
    shape = tuple(reversed(info.dims))
    row_bytes = info.dims[0] // block * type_size
    return np.frombuffer(raw, dtype=np.uint8).reshape(*shape[:-1], row_bytes)


def dequantized(info: TensorInfo, raw: bytes | memoryview) -> np.ndarray:
    from gguf.constants import GGMLQuantizationType
    from gguf.quants import dequantize

    return np.asarray(dequantize(tensor_array(info, raw), GGMLQuantizationType(info.qtype)), dtype=np.float32)


def _merge(info: TensorInfo, raw: bytes | memoryview, d: LoraDelta) -> tuple[int, bytes]:
    from gguf.constants import GGMLQuantizationType
    from gguf.quants import quantize

    weight = dequantized(info, raw)
    update = d.delta()
    if weight.shape != update.shape:
        raise ValueError(f"{info.name}: base {weight.shape} vs adapter {update.shape}")
    merged = weight + update
    qtype = GGMLQuantizationType.Q8_0 if info.dims[0] % 32 == 0 else GGMLQuantizationType.F16
    return int(qtype), np.ascontiguousarray(quantize(merged, qtype)).tobytes()


def _write(out: Any, mm: mmap.mmap, layout: GgufLayout, blobs: list[tuple[TensorInfo, bytes | memoryview]]) -> None:
    head = struct.pack("<IIQQ", 0x46554747, layout.version, len(blobs), layout.kv_count) + mm[24 : layout.kv_end]
    write_gguf(out, head=head, alignment=layout.alignment, blobs=blobs)


def write_gguf(out: Any, *, head: bytes, alignment: int, blobs: list[tuple[TensorInfo, bytes | memoryview]]) -> None:
    """A GGUF file: ``head`` (header and metadata, as bytes), then each tensor's info and
    data, aligned to ``alignment``."""
    out.write(head)
    offset = 0
    for info, blob in blobs:
        name = info.name.encode("utf-8")
        out.write(struct.pack("<Q", len(name)) + name)
        out.write(struct.pack(f"<I{len(info.dims)}Q", len(info.dims), *info.dims))
        out.write(struct.pack("<IQ", info.qtype, offset))
        offset = _align(offset + len(blob), alignment)
    pos = out.tell()
    out.write(b"\0" * (_align(pos, alignment) - pos))
    for _, blob in blobs:
        out.write(blob)
        pad = _align(len(blob), alignment) - len(blob)
        out.write(b"\0" * pad)


MODELFILE = "Modelfile"


def write_modelfile(gguf_path: Path) -> Path:
    """An Ollama ``Modelfile`` next to ``gguf_path``: raw prompts in, SQL out, stop at ``;``.

    ``ollama create askgres-sql -f Modelfile`` in that folder registers the model.
    """
    from nl2sql.prompt import STOP

    gguf_path = Path(gguf_path)
    lines = [
        "# askgres fine-tuned SQL model. Register with: ollama create <name> -f Modelfile",
        f"FROM ./{gguf_path.name}",
        '# The prompt is sent as is (nl2sql/prompt.py builds it); the model continues with SQL.',
        'TEMPLATE """{{ .Prompt }}"""',
        "PARAMETER temperature 0",
        "PARAMETER num_ctx 2048",
    ]
    for stop in STOP:
        if "\n" not in stop and '"' not in stop:
            lines.append(f'PARAMETER stop "{stop}"')
    out = gguf_path.with_name(MODELFILE)
    tmp = out.with_name(f".{MODELFILE}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, out)
    return out
