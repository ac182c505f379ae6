"""The CUDA path of :func:`learner.train.train_lora`: Unsloth's ``FastLanguageModel``.

Used only when ``torch.cuda.is_available()`` and the optional ``askgres[gpu]`` extra
(``unsloth``) is installed. Same data, same LoRA targets and rank, same checkpoints, time
limit and adapter layout as the CPU path, so the exporter and the gate see no difference.
On CUDA, TRL's own fused LM head already scores only the completion's positions (Triton),
so the stock ``SFTTrainer`` is used.

Not exercised by the test suite (no GPU in CI); written against Unsloth's documented API:
``FastLanguageModel.from_pretrained(model_name, max_seq_length, dtype, load_in_4bit)`` and
``FastLanguageModel.get_peft_model(model, r, target_modules, lora_alpha, lora_dropout,
bias, use_gradient_checkpointing, random_state)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from gateway.config import Settings
from learner.train import (
    MAX_TOKENS,
    TARGET_MODULES,
    TrainResult,
    callbacks,
    lora_alpha,
    plan_run,
    run_trainer,
    sft_config,
)

if TYPE_CHECKING:
    from datasets import DatasetDict

log = structlog.get_logger("askgres.learner.train")


def train_lora_unsloth(
    settings: Settings,
    dataset: DatasetDict,
    *,
    base_dir: Path,
    out_dir: Path,
    resume: bool = True,
    progress: Callable[[float], None] | None = None,
    max_epochs: float = 3.0,
) -> TrainResult:
    # Unsloth patches transformers and TRL when imported, so it comes first.
    from unsloth import FastLanguageModel, is_bfloat16_supported  # type: ignore[import-not-found]

    from trl import SFTTrainer

    cfg = settings.learner
    started = time.monotonic()
    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=str(base_dir),
        max_seq_length=MAX_TOKENS,
        dtype=None,  # bfloat16 where the GPU has it, else float16
        load_in_4bit=False,  # a 270M model fits; 4-bit would only add quantization error
    )
    model = FastLanguageModel.get_peft_model(
        model,
        r=cfg.lora_r,
        target_modules=TARGET_MODULES,
        lora_alpha=lora_alpha(cfg.lora_r),
        lora_dropout=0.0,
        bias="none",
        use_gradient_checkpointing=False,  # small model, short sequences: memory is not the limit
        random_state=42,
        max_seq_length=MAX_TOKENS,
    )
    # Ensure the tokenizer (not a processor) is what TRL sees.
    tokenizer = getattr(tokenizer, "tokenizer", tokenizer)
    plan = plan_run(settings, dataset, tokenizer, out_dir=out_dir, resume=resume, micro_batch=cfg.batch_size,
                    max_epochs=max_epochs)
    bf16 = bool(is_bfloat16_supported())
    trainer = SFTTrainer(
        model=model,
        args=sft_config(settings, plan, use_cpu=False, bf16=bf16, fp16=not bf16),
        train_dataset=plan.train,
        processing_class=tokenizer,
        callbacks=callbacks(deadline=started + cfg.max_minutes * 60, total_steps=plan.steps, progress=progress),
    )
    return run_trainer(trainer, plan, device="cuda/unsloth", progress=progress)
