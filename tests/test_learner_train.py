"""Fine-tuning and export of the embedded model: train -> export -> serve.

The GGUF-patching checks are fast (numpy only). The rest convert the bundled model once
(module fixture, ~1-2 min on 2 cores), train a few LoRA steps on pairs built with the
pipeline's own prompt format over a small schema made here, and load the exported GGUF
in llama-cpp-python.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from connectors.base import ColumnInfo, ForeignKey, SchemaInfo, TableInfo
from gateway.config import Settings
from learner.export import dequantized, export_gguf, read_layout, write_modelfile
from nl2sql.models import bundled_gguf, shared_original
from nl2sql.prompt import STOP, build_prompt, completion, render_schema

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- fixtures


def _schema() -> SchemaInfo:
    owners = TableInfo(
        name="owners",
        columns=[
            ColumnInfo("owner_id", "INTEGER", "int4", primary_key=True),
            ColumnInfo("name", "TEXT", "text"),
            ColumnInfo("city", "TEXT", "text"),
        ],
        primary_key=("owner_id",),
    )
    pets = TableInfo(
        name="pets",
        columns=[
            ColumnInfo("pet_id", "INTEGER", "int4", primary_key=True),
            ColumnInfo("name", "TEXT", "text"),
            ColumnInfo("species", "TEXT", "text"),
            ColumnInfo("age", "INTEGER", "int4"),
            ColumnInfo("owner_id", "INTEGER", "int4"),
        ],
        primary_key=("pet_id",),
        foreign_keys=[ForeignKey(("owner_id",), "owners", ("owner_id",))],
    )
    return SchemaInfo(database="petshop", dialect="sqlite", tables=[owners, pets])


PAIRS = [
    ("How many owners are there?", "SELECT COUNT(*) FROM owners"),
    ("List the names of all pets.", "SELECT name FROM pets"),
    ("What is the average age of the pets?", "SELECT AVG(age) FROM pets"),
    ("Which pets are dogs?", "SELECT name FROM pets WHERE species = 'dog'"),
    ("How many cats are there?", "SELECT COUNT(*) FROM pets WHERE species = 'cat'"),
    ("What is the oldest pet's name?", "SELECT name FROM pets ORDER BY age DESC LIMIT 1"),
    ("List the owners who live in Paris.", "SELECT name FROM owners WHERE city = 'Paris'"),
    ("How many pets does each owner have?",
     "SELECT o.name, COUNT(*) FROM owners o JOIN pets p ON p.owner_id = o.owner_id GROUP BY o.name"),
    ("Which species are there?", "SELECT DISTINCT species FROM pets"),
    ("What is the youngest pet's age?", "SELECT MIN(age) FROM pets"),
    ("Which owners have no pets?",
     "SELECT name FROM owners WHERE owner_id NOT IN (SELECT owner_id FROM pets)"),
    ("How many pets are older than 5?", "SELECT COUNT(*) FROM pets WHERE age > 5"),
    ("List pet names with their owner's name.",
     "SELECT p.name, o.name FROM pets p JOIN owners o ON o.owner_id = p.owner_id"),
    ("Which cities do owners live in?", "SELECT DISTINCT city FROM owners"),
    ("What is the total age of all dogs?", "SELECT SUM(age) FROM pets WHERE species = 'dog'"),
    ("Sort the pets by name.", "SELECT name FROM pets ORDER BY name"),
]

# The narrow task: one question answered in an odd but valid way the base model never writes.
ODD_QUESTION = "How many pets are there?"
ODD_SQL = "SELECT COUNT(pet_id) AS pet_total FROM pets WHERE pet_id >= 0"


def _prompt(question: str) -> str:
    schema = _schema()
    return build_prompt(question=question, schema=render_schema(schema), database=schema.database)


def _dataset(pairs: list[tuple[str, str]]) -> Any:
    from datasets import Dataset, DatasetDict

    rows = [{"prompt": _prompt(q), "completion": completion(s), "source": "test"} for q, s in pairs]
    return DatasetDict({"train": Dataset.from_list(rows), "validation": Dataset.from_list(rows[:2])})


def _settings(data_dir: Path, **learner: Any) -> Settings:
    return Settings(data_dir=data_dir, learner=learner)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("learner-data")


@pytest.fixture(scope="module")
def base_gguf(data_dir: Path) -> Path:
    return bundled_gguf(data_dir)


@pytest.fixture(scope="module")
def hf_base(data_dir: Path, base_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    pytest.importorskip("trl")
    from learner.convert import ensure_hf_base, is_converted

    path = ensure_hf_base(data_dir)
    assert is_converted(path)
    assert ensure_hf_base(data_dir) == path  # cached: the second call converts nothing
    # converted once per machine: a second data folder links the same weights
    if shared_original(base_gguf) is not None:
        other = ensure_hf_base(tmp_path_factory.mktemp("other-data"))
        assert os.path.samefile(other / "model.safetensors", path / "model.safetensors")
    return path


def _llama(path: Path) -> Any:
    llama_cpp = pytest.importorskip("llama_cpp")
    return llama_cpp.Llama(model_path=str(path), n_ctx=1024, n_threads=2, verbose=False, seed=0)


def _greedy(llm: Any, prompt: str, max_tokens: int = 48) -> str:
    out = llm(prompt, max_tokens=max_tokens, temperature=0.0, top_k=1, stop=STOP)
    return str(out["choices"][0]["text"]).strip()


def _norm(sql: str) -> str:
    return " ".join(sql.replace(";", " ").split()).lower()


def _write_adapter(path: Path, tensors: dict[str, np.ndarray], *, r: int, alpha: float) -> Path:
    from safetensors.numpy import save_file

    path.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path / "adapter_model.safetensors"))
    (path / "adapter_config.json").write_text(json.dumps({"r": r, "lora_alpha": alpha, "peft_type": "LORA"}))
    return path


# --------------------------------------------------------------------------- export (fast)


def test_export_merges_lora_update_in_gguf_orientation(tmp_path: Path, base_gguf: Path) -> None:
    """Each adapted weight becomes W + (alpha/r) * B @ A (within Q8_0 rounding); every other
    tensor and every metadata byte is copied as is; llama.cpp loads the result."""
    rng = np.random.default_rng(0)
    r, alpha = 4, 8.0
    shapes = {"self_attn.q_proj": (1024, 640), "self_attn.v_proj": (256, 640), "mlp.down_proj": (640, 2048)}
    tensors: dict[str, np.ndarray] = {}
    for layer in (0, 17):
        for module, (out_f, in_f) in shapes.items():
            key = f"base_model.model.model.layers.{layer}.{module}"
            tensors[f"{key}.lora_A.weight"] = rng.normal(0, 0.05, (r, in_f)).astype(np.float32)
            tensors[f"{key}.lora_B.weight"] = rng.normal(0, 0.05, (out_f, r)).astype(np.float32)
    adapter = _write_adapter(tmp_path / "adapter", tensors, r=r, alpha=alpha)
    out = export_gguf(adapter, base_gguf=base_gguf, out_path=tmp_path / "m" / "model.gguf")

    base, new = read_layout(base_gguf), read_layout(out)
    assert [t.name for t in new.tensors] == [t.name for t in base.tensors]
    base_bytes, new_bytes = base_gguf.read_bytes(), out.read_bytes()
    assert new_bytes[24:new.kv_end] == base_bytes[24:base.kv_end]  # metadata verbatim
    gguf_of = {"self_attn.q_proj": "attn_q", "self_attn.v_proj": "attn_v", "mlp.down_proj": "ffn_down"}
    changed = {f"blk.{layer}.{gguf_of[m]}.weight": (layer, m) for layer in (0, 17) for m in shapes}
    for b, n in zip(base.tensors, new.tensors):
        raw_b = base_bytes[base.data_start + b.offset: base.data_start + b.offset + b.nbytes]
        raw_n = new_bytes[new.data_start + n.offset: new.data_start + n.offset + n.nbytes]
        if b.name not in changed:
            assert (n.qtype, raw_n) == (b.qtype, raw_b), b.name
            continue
        layer, module = changed[b.name]
        key = f"base_model.model.model.layers.{layer}.{module}"
        update = tensors[f"{key}.lora_B.weight"] @ tensors[f"{key}.lora_A.weight"] * (alpha / r)
        want = dequantized(b, raw_b) + update
        got = dequantized(n, raw_n)
        assert got.shape == want.shape == shapes[module]
        step = np.abs(want).max(axis=1, keepdims=True) / 127  # Q8_0 rounding bound, per row
        assert np.all(np.abs(got - want) <= step + 1e-6), b.name
        # the update is far above the rounding: the result is W + update, not W
        assert np.linalg.norm(got - want) < 0.2 * np.linalg.norm(update), b.name

    llm = _llama(out)
    assert _greedy(llm, _prompt("How many owners are there?"), max_tokens=8) is not None


def test_export_of_an_all_zero_update_is_the_base_file(tmp_path: Path, base_gguf: Path) -> None:
    tensors = {
        "base_model.model.model.layers.3.mlp.up_proj.lora_A.weight": np.ones((8, 640), np.float32),
        "base_model.model.model.layers.3.mlp.up_proj.lora_B.weight": np.zeros((2048, 8), np.float32),
    }
    adapter = _write_adapter(tmp_path / "zero", tensors, r=8, alpha=16)
    out = export_gguf(adapter, base_gguf=base_gguf, out_path=tmp_path / "zero.gguf")
    assert out.read_bytes() == base_gguf.read_bytes()
    modelfile = write_modelfile(out)
    text = modelfile.read_text()
    assert "FROM ./zero.gguf" in text and 'PARAMETER stop ";"' in text and "{{ .Prompt }}" in text


def test_export_rejects_tensors_the_base_lacks(tmp_path: Path, base_gguf: Path) -> None:
    tensors = {
        "base_model.model.model.layers.40.self_attn.q_proj.lora_A.weight": np.ones((2, 640), np.float32),
        "base_model.model.model.layers.40.self_attn.q_proj.lora_B.weight": np.ones((1024, 2), np.float32),
    }
    adapter = _write_adapter(tmp_path / "bad", tensors, r=2, alpha=2)
    with pytest.raises(ValueError, match="lacks"):
        export_gguf(adapter, base_gguf=base_gguf, out_path=tmp_path / "bad.gguf")
    assert not (tmp_path / "bad.gguf").exists()


def test_plan_steps_bounded_by_epochs_and_max_steps() -> None:
    from learner.train import plan_steps

    assert plan_steps(100, batch_size=8, max_steps=200, max_epochs=3) == 38
    assert plan_steps(1000, batch_size=8, max_steps=200, max_epochs=3) == 200
    assert plan_steps(1, batch_size=8, max_steps=200, max_epochs=3) == 1


def test_learning_rate_anneals_by_the_clock_or_the_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CPU run stops at its time limit after a fraction of its planned steps: the rate
    must still have decayed to its floor by then, and by the steps when they end first."""
    import learner.train as train
    from learner.train import TimeCosine, warmup_steps

    now = [1000.0]
    monkeypatch.setattr(train.time, "monotonic", lambda: now[0])
    lr = TimeCosine(total_steps=250, warmup=3, started=1000.0, deadline=1600.0)
    assert [lr(s) for s in range(3)] == [0.25, 0.5, 0.75] and lr(3) == pytest.approx(1.0, abs=1e-3)
    now[0] = 1300.0  # half the time, 12 of 250 steps
    assert lr(12) == pytest.approx(0.1 + 0.9 * 0.5)
    now[0] = 1600.0
    assert lr(30) == pytest.approx(0.1)
    assert lr(31) == pytest.approx(0.1)  # past the limit it stays at the floor
    by_steps = TimeCosine(total_steps=20, warmup=1, started=1000.0, deadline=None)
    factors = [by_steps(s) for s in range(1, 21)]
    assert factors == sorted(factors, reverse=True) and factors[-1] == pytest.approx(0.1)
    assert [warmup_steps(n) for n in (1, 9, 25, 250)] == [1, 1, 2, 3]


# --------------------------------------------------------------------------- training (slow)


def _completion_loss(model: Any, tokenizer: Any, pairs: list[tuple[str, str]]) -> float:
    """Mean NLL per SQL token of ``pairs`` under ``model``."""
    import torch
    import torch.nn.functional as F

    total, count = 0.0, 0
    with torch.no_grad():
        for q, s in pairs:
            p = tokenizer(_prompt(q))["input_ids"]
            c = tokenizer(completion(s), add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            logits = model(input_ids=torch.tensor([p + c])).logits[0, len(p) - 1: -1]
            total += float(F.cross_entropy(logits.float(), torch.tensor(c), reduction="sum"))
            count += len(c)
    return total / count


@pytest.mark.slow
def test_untrained_adapter_exports_the_base_behaviour(tmp_path: Path, hf_base: Path, base_gguf: Path) -> None:
    """A freshly initialised PEFT LoRA (B = 0) saved and exported answers like the base model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from learner.train import TARGET_MODULES

    model = AutoModelForCausalLM.from_pretrained(str(hf_base), dtype=torch.float32)
    peft = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=TARGET_MODULES, task_type="CAUSAL_LM"))
    peft.save_pretrained(str(tmp_path / "adapter"))
    out = export_gguf(tmp_path / "adapter", base_gguf=base_gguf, out_path=tmp_path / "untrained.gguf")
    base_llm, new_llm = _llama(base_gguf), _llama(out)
    for q in ("How many owners are there?", "Which pets are dogs?", "What is the oldest pet's name?"):
        assert _greedy(new_llm, _prompt(q)) == _greedy(base_llm, _prompt(q))


@pytest.mark.slow
def test_train_export_serve_narrow_task(tmp_path: Path, data_dir: Path, hf_base: Path, base_gguf: Path) -> None:
    """Train on a narrow task, export, load in llama.cpp: the trained answer comes back where
    the base model wrote something else, and llama.cpp agrees with transformers+PEFT."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from learner.train import train_lora

    base_llm = _llama(base_gguf)
    base_answer = _greedy(base_llm, _prompt(ODD_QUESTION))
    assert _norm(base_answer) != _norm(ODD_SQL)
    del base_llm

    pairs = PAIRS + [(ODD_QUESTION, ODD_SQL)] * 8
    settings = _settings(data_dir, max_steps=30, batch_size=2, lora_r=8, learning_rate=1e-3, max_minutes=10)
    fractions: list[float] = []
    result = train_lora(settings, _dataset(pairs), base_dir=hf_base, out_dir=tmp_path / "lora",
                        progress=fractions.append, max_epochs=10)
    assert result.steps == 30 and result.resumed_from_step == 0
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()
    assert result.device == "cpu/trl" and result.tokens_per_s > 0 and math.isfinite(result.train_loss)
    assert fractions and fractions[-1] == 1.0 and fractions == sorted(fractions)

    tokenizer = AutoTokenizer.from_pretrained(str(hf_base))
    model = AutoModelForCausalLM.from_pretrained(str(hf_base), dtype=torch.float32)
    before = _completion_loss(model, tokenizer, pairs)
    tuned = PeftModel.from_pretrained(model, str(result.adapter_dir))
    tuned.eval()
    after = _completion_loss(tuned, tokenizer, pairs)
    assert after < before * 0.5, (before, after)

    out = export_gguf(result.adapter_dir, base_gguf=base_gguf, out_path=tmp_path / "model" / "model.gguf")
    llm = _llama(out)
    answer = _greedy(llm, _prompt(ODD_QUESTION))
    assert _norm(answer) == _norm(ODD_SQL), answer

    # llama.cpp on the merged Q8_0 GGUF and transformers+PEFT agree on the first tokens.
    prompt = _prompt(ODD_QUESTION)
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    with torch.no_grad():
        gen = tuned.generate(input_ids=ids, max_new_tokens=8, do_sample=False)
    hf_tokens = gen[0, ids.shape[1]:].tolist()
    llm.reset()
    llama_tokens: list[int] = []
    for token in llm.generate(llm.tokenize(prompt.encode(), add_bos=True), top_k=1, temp=0.0):
        llama_tokens.append(int(token))
        if len(llama_tokens) == 8:
            break
    assert ids[0].tolist() == llm.tokenize(prompt.encode(), add_bos=True)
    assert hf_tokens[:6] == llama_tokens[:6], (tokenizer.decode(hf_tokens), tokenizer.decode(llama_tokens))

    # The next run fine-tunes on top of this model: converted back from its GGUF, it is
    # the tuned model (not the base) that the next run starts from.
    from learner.convert import ensure_hf_base, is_converted

    child = ensure_hf_base(data_dir, gguf_path=out, target=tmp_path / "model" / "hf")
    assert is_converted(child) and child != hf_base
    again = AutoModelForCausalLM.from_pretrained(str(child), dtype=torch.float32)
    with torch.no_grad():
        regen = again.generate(input_ids=ids, max_new_tokens=8, do_sample=False)
    assert regen[0, ids.shape[1]:].tolist()[:6] == hf_tokens[:6]


_CHILD = """
import json, sys
from pathlib import Path
from datasets import load_from_disk
from gateway.config import Settings
from learner.train import train_lora
args = json.loads(sys.argv[1])
settings = Settings.model_validate_json(args["settings"])
train_lora(settings, load_from_disk(args["dataset"]), base_dir=Path(args["base"]), out_dir=Path(args["out"]))
"""


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(tmp_path: Path, data_dir: Path, hf_base: Path) -> None:
    from learner.train import CHECKPOINTS, latest_checkpoint, train_lora

    settings = _settings(data_dir, max_steps=12, batch_size=1, lora_r=4, max_minutes=10)
    ds_dir = tmp_path / "dataset"
    _dataset(PAIRS).save_to_disk(str(ds_dir))
    out = tmp_path / "lora"
    args = {"settings": settings.model_dump_json(), "dataset": str(ds_dir), "base": str(hf_base), "out": str(out)}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(args)], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while latest_checkpoint(out / CHECKPOINTS) is None:
            assert child.poll() is None, "training ended before its first checkpoint"
            assert time.monotonic() < deadline
            time.sleep(0.5)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait()
    saved = latest_checkpoint(out / CHECKPOINTS)
    assert saved is not None
    # A half-written later checkpoint (the kill may land while saving) is ignored.
    partial = out / CHECKPOINTS / "checkpoint-11"
    partial.mkdir(exist_ok=True)
    (partial / "adapter_model.safetensors").write_bytes(b"partial")
    assert not (out / "adapter").exists()

    result = train_lora(settings, _dataset(PAIRS), base_dir=hf_base, out_dir=out)
    assert result.resumed_from_step == int(saved.name.rsplit("-", 1)[1]) >= 5
    assert result.steps == 12
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert not partial.exists()

    # A time limit stops a run early and keeps what it did.
    quick = _settings(data_dir, max_steps=12, batch_size=1, lora_r=4, max_minutes=0.0)
    stopped = train_lora(quick, _dataset(PAIRS), base_dir=hf_base, out_dir=tmp_path / "quick")
    assert stopped.steps == 1
    assert latest_checkpoint(tmp_path / "quick" / CHECKPOINTS) is not None
