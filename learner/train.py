"""LoRA fine-tuning of the embedded model on prompt -> SQL pairs.

On CPU: TRL's ``SFTTrainer`` with a PEFT LoRA adapter on every attention and MLP
projection; with a CUDA GPU and Unsloth installed (``askgres[gpu]``): Unsloth's
``FastLanguageModel`` on the same data, through the same function.

What decides the outcome on a 2-core CPU is throughput, so the CPU path is shaped for it
(figures in the module's tests and the lead's report):

* the loss is taken on the completion (the SQL) only, and the 262k-word LM head is applied
  only at those positions: the backbone's hidden states are gathered where a label is, then
  projected (:class:`CompletionLossTrainer`); projecting every position is most of the work;
* no padding: one sequence per forward pass, ``batch_size`` of them accumulated per
  optimizer step (a padded batch of prompts of different lengths costs more than it saves);
* float32 (the CPU has no fast bfloat16), no gradient checkpointing, no LoRA dropout;
* sequences longer than :data:`MAX_TOKENS` are dropped, never cut (a cut would lose the SQL).

A run is bounded by ``learner.max_steps`` and ``learner.max_minutes`` (and by
``max_epochs`` passes over the data), saves checkpoints as it goes, and resumes from the
last complete one after a crash (``kill -9`` included).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from gateway.config import Settings

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

log = structlog.get_logger("askgres.learner.train")

TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
"""LoRA targets: every attention and MLP projection of each decoder layer."""
MAX_TOKENS = 1024
"""Longest training sequence (prompt + SQL + EOS) kept; longer ones are dropped."""
ADAPTER = "adapter"
CHECKPOINTS = "checkpoints"
_CHECKPOINT_FILES = ("adapter_model.safetensors", "optimizer.pt", "scheduler.pt", "trainer_state.json")


@dataclass(frozen=True)
class TrainResult:
    adapter_dir: Path
    """PEFT adapter directory (``adapter_config.json`` + ``adapter_model.safetensors``)."""
    steps: int
    """Optimizer steps done in total (including those of a resumed run)."""
    seconds: float
    """Wall time of this call's training loop."""
    train_loss: float
    """Mean training loss over this call's steps (per SQL token)."""
    tokens_per_s: float
    """Tokens (prompt + SQL) trained on per second in this call."""
    device: str
    """``cpu`` or ``cuda``, with the library used (``cpu/trl``, ``cuda/unsloth``)."""
    resumed_from_step: int = 0
    """Step of the checkpoint this call resumed from (0: a fresh start)."""


def lora_alpha(r: int) -> int:
    return 2 * r


def train_threads() -> int:
    """Intra-op threads of the trainer: half the cores, at least one.

    The gateway keeps serving (llama.cpp, 2 threads by default) while a run trains, and
    OpenMP threads that share a busy core spin at every barrier: on 2 loaded cores, 2
    threads trained at 15-22 tokens/s where 1 thread did 84 (1 thread on an idle machine:
    ~90; 2 threads idle: ~95).
    """
    return max(1, (os.cpu_count() or 2) // 2)


def train_lora(
    settings: Settings,
    dataset: DatasetDict,
    *,
    base_dir: Path,
    out_dir: Path,
    resume: bool = True,
    progress: Callable[[float], None] | None = None,
    max_epochs: float = 3.0,
) -> TrainResult:
    """Fine-tune a LoRA adapter on ``dataset["train"]`` (columns ``prompt``, ``completion``).

    ``base_dir`` is the Hugging Face checkpoint of the base model
    (:func:`learner.convert.ensure_hf_base`); checkpoints go to ``out_dir/checkpoints`` and
    the final adapter to ``out_dir/adapter`` (written atomically). With ``resume``, a run
    continues from the newest complete checkpoint in ``out_dir``. ``progress`` is called with
    the fraction of the planned steps done.
    """
    import torch

    if torch.cuda.is_available() and _unsloth_available():
        from learner.train_gpu import train_lora_unsloth

        return train_lora_unsloth(
            settings, dataset, base_dir=base_dir, out_dir=out_dir, resume=resume, progress=progress,
            max_epochs=max_epochs,
        )
    return _train_trl(settings, dataset, base_dir=base_dir, out_dir=out_dir, resume=resume, progress=progress,
                      max_epochs=max_epochs)


def _unsloth_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("unsloth") is not None


# --------------------------------------------------------------------------- data


def tokenize_pairs(tokenizer: Any, split: Dataset, *, max_tokens: int = MAX_TOKENS) -> Dataset:
    """``input_ids`` + ``completion_mask`` for each ``prompt``/``completion`` row.

    The prompt is tokenized on its own (with BOS), exactly as the serving model sees it,
    and the completion's tokens (plus EOS) follow; only those carry the loss. Rows longer
    than ``max_tokens`` are dropped.
    """
    eos = tokenizer.eos_token_id

    def encode(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        ids: list[list[int]] = []
        masks: list[list[int]] = []
        prompts = tokenizer(batch["prompt"], add_special_tokens=True)["input_ids"]
        completions = tokenizer(batch["completion"], add_special_tokens=False)["input_ids"]
        for p, c in zip(prompts, completions):
            ids.append(list(p) + list(c) + [eos])
            masks.append([0] * len(p) + [1] * (len(c) + 1))
        return {"input_ids": ids, "completion_mask": masks}

    encoded = split.map(encode, batched=True, remove_columns=split.column_names, desc="tokenize")
    before = len(encoded)
    encoded = encoded.filter(lambda row: len(row["input_ids"]) <= max_tokens, desc="length")
    if len(encoded) < before:
        log.warning("train.dropped_long", dropped=before - len(encoded), max_tokens=max_tokens)
    return encoded


def plan_steps(n_rows: int, *, batch_size: int, max_steps: int, max_epochs: float) -> int:
    """Optimizer steps of a run: ``max_steps``, or fewer when that would pass over the data
    more than ``max_epochs`` times."""
    by_epochs = math.ceil(max_epochs * n_rows / max(1, batch_size))
    return max(1, min(max_steps, by_epochs))


# --------------------------------------------------------------------------- checkpoints


def latest_checkpoint(ckpt_dir: Path) -> Path | None:
    """The newest checkpoint in ``ckpt_dir`` with every file written (the trainer state,
    written last, must parse); unfinished ones (a run killed while saving) are skipped."""
    if not ckpt_dir.is_dir():
        return None
    found: list[tuple[int, Path]] = []
    for d in ckpt_dir.glob("checkpoint-*"):
        try:
            step = int(d.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if not all((d / f).is_file() for f in _CHECKPOINT_FILES):
            continue
        try:
            json.loads((d / "trainer_state.json").read_text())
        except (OSError, ValueError):
            continue
        found.append((step, d))
    return max(found)[1] if found else None


def _drop_unfinished(ckpt_dir: Path, keep: Path | None) -> None:
    """Remove checkpoint directories newer than ``keep`` (half-written by a killed run)."""
    if not ckpt_dir.is_dir():
        return
    keep_step = -1 if keep is None else int(keep.name.rsplit("-", 1)[1])
    for d in ckpt_dir.glob("checkpoint-*"):
        try:
            step = int(d.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if step > keep_step:
            shutil.rmtree(d, ignore_errors=True)


def save_adapter_atomic(model: Any, target: Path) -> Path:
    """``model.save_pretrained`` into ``target`` through a temporary directory and a rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    old = target.with_name(f".{target.name}.{os.getpid()}.old")
    if target.exists():
        os.rename(target, old)
    os.rename(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


# --------------------------------------------------------------------------- shared by both paths


@dataclass
class RunPlan:
    """What a call will do: the tokenized rows, the step budget and where things go."""

    train: Any
    steps: int
    micro_batch: int
    accumulation: int
    ckpt_dir: Path
    adapter_dir: Path
    checkpoint: Path | None
    start_step: int


def plan_run(
    settings: Settings, dataset: DatasetDict, tokenizer: Any, *, out_dir: Path, resume: bool, micro_batch: int,
    max_epochs: float,
) -> RunPlan:
    cfg = settings.learner
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / CHECKPOINTS
    if not resume:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    checkpoint = latest_checkpoint(ckpt_dir) if resume else None
    _drop_unfinished(ckpt_dir, checkpoint)
    train = tokenize_pairs(tokenizer, dataset["train"])
    if len(train) == 0:
        raise ValueError("no training rows fit in the token limit")
    micro = max(1, min(micro_batch, cfg.batch_size))
    accum = max(1, cfg.batch_size // micro)
    steps = plan_steps(len(train), batch_size=micro * accum, max_steps=cfg.max_steps, max_epochs=max_epochs)
    start = 0
    if checkpoint is not None:
        start = int(json.loads((checkpoint / "trainer_state.json").read_text()).get("global_step", 0))
    return RunPlan(train=train, steps=steps, micro_batch=micro, accumulation=accum, ckpt_dir=ckpt_dir,
                   adapter_dir=out_dir / ADAPTER, checkpoint=checkpoint, start_step=start)


def sft_config(settings: Settings, plan: RunPlan, *, use_cpu: bool, bf16: bool = False, fp16: bool = False) -> Any:
    from trl import SFTConfig

    cfg = settings.learner
    steps = plan.steps
    return SFTConfig(
        output_dir=str(plan.ckpt_dir),
        max_steps=steps,
        per_device_train_batch_size=plan.micro_batch,
        gradient_accumulation_steps=plan.accumulation,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=warmup_steps(steps),
        weight_decay=0.0,
        logging_steps=max(1, min(10, steps // 10)),
        save_strategy="steps",
        save_steps=max(5, steps // 10),
        save_total_limit=2,
        gradient_checkpointing=False,
        bf16=bf16,
        fp16=fp16,
        use_cpu=use_cpu,
        train_sampling_strategy="group_by_length" if plan.micro_batch > 1 else "random",
        dataloader_num_workers=0,
        report_to=[],
        seed=42,
        max_length=None,
        completion_only_loss=True,
        remove_unused_columns=True,
        disable_tqdm=False,
    )


def warmup_steps(steps: int) -> int:
    """Warm-up of a run of ``steps``: a tenth, between 1 and 3 (LoRA starts from a zero
    update, and a CPU run bounded by time does only some tens of steps)."""
    return min(3, max(1, steps // 10))


@dataclass
class TimeCosine:
    """Learning-rate factor (``LambdaLR``): linear warm-up, then a cosine from 1 down to
    ``floor`` over the run's progress, the larger of its share of steps done and its share
    of the time allowed. A CPU run is stopped by its time limit long before its planned
    steps (~35 of 250 here), so a schedule by steps alone never decays and the adapter
    ends at the peak rate; by the clock it anneals whichever limit comes first."""

    total_steps: int
    warmup: int
    started: float
    deadline: float | None
    floor: float = 0.1

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        frac = step / max(1, self.total_steps)
        if self.deadline is not None and self.deadline > self.started:
            frac = max(frac, (time.monotonic() - self.started) / (self.deadline - self.started))
        return self.floor + (1.0 - self.floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, frac)))


def callbacks(*, deadline: float, total_steps: int, progress: Callable[[float], None] | None) -> list[Any]:
    """A callback that reports progress after each step and stops (saving) at ``deadline``."""
    from transformers import TrainerCallback

    class TimeLimit(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            if progress is not None:
                progress(min(1.0, state.global_step / max(1, total_steps)))
            if time.monotonic() >= deadline:
                log.info("train.time_limit", step=state.global_step)
                control.should_training_stop = True
                control.should_save = True
            return control

    return [TimeLimit()]


def run_trainer(
    trainer: Any, plan: RunPlan, *, device: str, progress: Callable[[float], None] | None,
) -> TrainResult:
    """Train (from the plan's checkpoint, if any), save the adapter atomically, report."""
    if plan.checkpoint is not None:
        log.info("train.resume", checkpoint=str(plan.checkpoint), step=plan.start_step)
    log.info("train.start", rows=len(plan.train), steps=plan.steps, batch=plan.micro_batch * plan.accumulation,
             device=device)
    started = time.monotonic()
    output = trainer.train(resume_from_checkpoint=str(plan.checkpoint) if plan.checkpoint is not None else None)
    seconds = time.monotonic() - started
    steps = int(trainer.state.global_step)
    tokens = int(getattr(trainer, "_total_train_tokens", 0))
    save_adapter_atomic(trainer.model, plan.adapter_dir)
    if progress is not None:
        progress(1.0)
    result = TrainResult(
        adapter_dir=plan.adapter_dir,
        steps=steps,
        seconds=seconds,
        train_loss=float(output.training_loss) if steps > plan.start_step else float("nan"),
        tokens_per_s=tokens / seconds if seconds > 0 else 0.0,
        device=device,
        resumed_from_step=plan.start_step,
    )
    log.info("train.done", steps=steps, seconds=round(seconds, 1), loss=result.train_loss,
             tokens_per_s=round(result.tokens_per_s, 1), device=device)
    return result


# --------------------------------------------------------------------------- CPU path (TRL + PEFT)


def _make_trainer_class() -> type:
    import torch
    import torch.nn.functional as F
    from trl import SFTTrainer

    class CompletionLossTrainer(SFTTrainer):  # type: ignore[misc]
        """SFT whose LM head runs only where there is a label.

        TRL's fused head scores only labelled positions on Triton devices; on CPU it scores
        every position, and with a 262k-word vocabulary that projection costs more than the
        18 decoder layers. Here the backbone runs once, its last hidden states are gathered
        at the completion's positions, and only those are projected and scored.
        """

        schedule: TimeCosine | None = None
        """The learning-rate factor by step and clock; None: the arguments' scheduler."""
        head_ids: list[int] | None = None
        """Vocabulary ids the LM head scores (:func:`head_ids`), or None for all of them."""
        _trimmed: tuple[Any, Any] | None = None

        def _head(self, causal_lm: Any) -> tuple[Any, Any]:
            """(output matrix, full id -> its row) for the scored ids; the full matrix and
            None without :attr:`head_ids`. The matrix is frozen (tied to the embeddings,
            no adapter), so its rows are gathered once."""
            weight = causal_lm.lm_head.weight
            if self.head_ids is None:
                return weight, None
            if self._trimmed is None:
                ids = torch.tensor(self.head_ids, dtype=torch.long, device=weight.device)
                remap = torch.full((weight.shape[0],), -1, dtype=torch.long, device=weight.device)
                remap[ids] = torch.arange(len(ids), device=weight.device)
                self._trimmed = (weight.detach()[ids].clone(), remap)
            return self._trimmed

        def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
            if self.lr_scheduler is None and self.schedule is not None:
                self.schedule.total_steps = num_training_steps
                opt: Any = optimizer if optimizer is not None else self.optimizer
                self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(opt, self.schedule)
                self._created_lr_scheduler = True
            return super().create_scheduler(num_training_steps, optimizer)

        def compute_loss(
            self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
        ) -> Any:
            net = self.accelerator.unwrap_model(model)
            causal_lm = net.get_base_model() if hasattr(net, "get_base_model") else net
            labels = inputs["labels"][:, 1:]
            mask = labels != -100
            hidden = causal_lm.model(
                input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask"), use_cache=False
            ).last_hidden_state[:, :-1]
            head, remap = self._head(causal_lm)
            logits = F.linear(hidden[mask], head).float()
            softcap = getattr(causal_lm.config, "final_logit_softcapping", None)
            if softcap:
                logits = torch.tanh(logits / softcap) * softcap
            target = labels[mask] if remap is None else remap[labels[mask]]
            count = mask.sum()
            denom = num_items_in_batch if num_items_in_batch is not None else count.clamp(min=1)
            loss = F.cross_entropy(logits, target, reduction="sum") / denom
            mode = "train" if model.training else "eval"
            if int(count):
                with torch.no_grad():
                    acc = (logits.argmax(-1) == target).float().mean().item()
                self._metrics[mode]["mean_token_accuracy"].append(acc)
            if mode == "train":
                am = inputs.get("attention_mask")
                self._total_train_tokens += int(am.sum()) if am is not None else inputs["input_ids"].numel()
                self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
            return (loss, {"loss": loss}) if return_outputs else loss

    return CompletionLossTrainer


def _train_trl(
    settings: Settings,
    dataset: DatasetDict,
    *,
    base_dir: Path,
    out_dir: Path,
    resume: bool,
    progress: Callable[[float], None] | None,
    max_epochs: float,
    micro_batch: int = 1,
    attn: str = "sdpa",
) -> TrainResult:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = settings.learner
    started = time.monotonic()
    torch.set_num_threads(train_threads())
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    plan = plan_run(settings, dataset, tokenizer, out_dir=out_dir, resume=resume, micro_batch=micro_batch,
                    max_epochs=max_epochs)
    base = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32, attn_implementation=attn)
    base.config.use_cache = False
    peft_config = LoraConfig(
        r=cfg.lora_r, lora_alpha=lora_alpha(cfg.lora_r), lora_dropout=0.0, bias="none",
        target_modules=TARGET_MODULES, task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, peft_config)
    trainer = _make_trainer_class()(
        model=model,
        args=sft_config(settings, plan, use_cpu=True),
        train_dataset=plan.train,
        processing_class=tokenizer,
        callbacks=callbacks(deadline=started + cfg.max_minutes * 60, total_steps=plan.steps, progress=progress),
    )
    trainer.schedule = TimeCosine(total_steps=plan.steps, warmup=warmup_steps(plan.steps), started=started,
                                  deadline=started + cfg.max_minutes * 60)
    if settings.ask.trim_vocab:
        trainer.head_ids = head_ids(settings, plan.train, vocab_size=base.config.vocab_size)
    return run_trainer(trainer, plan, device="cpu/trl", progress=progress)


def head_ids(settings: Settings, rows: Any, *, vocab_size: int) -> list[int] | None:
    """The ids the gateway's trimmed copy of the model keeps (``ask.trim_vocab``,
    :func:`nl2sql.vocab.served_ids`) plus every id in the training rows: the softmax the
    served model has, so the head scores ~70k words instead of 262k (each SQL token of the
    loss costs a quarter of the projection). None (score them all) when the bundled GGUF's
    vocabulary cannot be read or is not the model's."""
    from nl2sql.models import bundled_gguf
    from nl2sql.vocab import served_ids

    try:
        kept = set(served_ids(bundled_gguf(settings.data_dir)))
    except (OSError, ValueError, KeyError) as e:
        log.warning("train.full_head", reason=str(e))
        return None
    for ids in rows["input_ids"]:
        kept.update(ids)
    if max(kept) >= vocab_size:
        log.warning("train.full_head", reason="the GGUF's vocabulary is not the model's")
        return None
    log.info("train.head", scored=len(kept), vocabulary=vocab_size)
    return sorted(kept)
