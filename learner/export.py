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
import os
import re
from collections.abc import Iterator
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
    import gguf

    deltas = read_adapter(Path(adapter_dir))
    reader = gguf.GGUFReader(str(base_gguf))
    names = {t.name for t in reader.tensors}
    missing = sorted(set(deltas) - names)
    if missing:
        raise ValueError(f"adapter targets tensors the base GGUF lacks: {missing[:3]}")

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(str(tmp), arch=arch, endianess=reader.endianess)
    try:
        alignment = reader.fields.get("general.alignment")
        if alignment is not None:
            writer.data_alignment = int(alignment.contents())
        _copy_metadata(reader, writer)
        merged = 0
        tensors: list[tuple[Any, np.ndarray, Any]] = []
        for tensor, data, qtype in _tensors(reader, deltas):
            tensors.append((tensor, data, qtype))
            merged += tensor.name in deltas and not deltas[tensor.name].is_zero
            writer.add_tensor_info(tensor.name, data.shape, data.dtype, data.nbytes, qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for tensor, data, _ in tensors:
            writer.write_tensor_data(data, tensor_endianess=reader.endianess)
        writer.close()
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("export.done", path=str(out_path), merged=merged, size=out_path.stat().st_size)
    return out_path


def _copy_metadata(reader: Any, writer: Any) -> None:
    import gguf

    for field in reader.fields.values():
        # The writer adds the architecture and the GGUF.* header fields itself.
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)


def _tensors(reader: Any, deltas: dict[str, LoraDelta]) -> Iterator[tuple[Any, np.ndarray, Any]]:
    """``(tensor, data, ggml type)`` for each tensor of the base, merged where adapted."""
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize, quantize

    for tensor in reader.tensors:
        d = deltas.get(tensor.name)
        if d is None or d.is_zero:
            yield tensor, tensor.data, tensor.tensor_type
            continue
        weight = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        update = d.delta()
        if weight.shape != update.shape:
            raise ValueError(f"{tensor.name}: base {weight.shape} vs adapter {update.shape}")
        merged = weight + update
        qtype = GGMLQuantizationType.Q8_0 if merged.shape[-1] % 32 == 0 else GGMLQuantizationType.F16
        yield tensor, quantize(merged, qtype), qtype


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
