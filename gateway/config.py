"""The one settings registry: a pydantic model read from a TOML file and ``ASKGRES_*``
environment variables (nested with ``__``, e.g. ``ASKGRES_ASK__MAX_REPAIRS=3``).

Every field carries a description; ``tests/test_config.py`` checks that each one is
documented in the README. Nothing else in the code reads ``os.environ``: the loaded
:class:`Settings` is passed in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def default_data_dir() -> Path:
    """The user's data directory, as XDG says (``~/.local/share/askgres``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "askgres"


class DatabaseConfig(BaseModel):
    name: str = Field(description="Database name clients connect to (`psql -d NAME`).")
    kind: Literal["sqlite", "duckdb"] = Field(description="Backend engine of the file.")
    path: Path = Field(description="Path of the SQLite or DuckDB file.")
    read_only: bool = Field(default=False, description="Open the file read-only for every session.")


class UserConfig(BaseModel):
    password: str = Field(description="Password, checked with SCRAM-SHA-256.")
    admin: bool = Field(default=False, description="May review and approve training pairs (`askgres.pairs`).")


class AskConfig(BaseModel):
    backend: Literal["llama", "ollama"] = Field(
        default="llama", description="Model backend: embedded llama.cpp or an Ollama server."
    )
    model_path: Path | None = Field(
        default=None,
        description="GGUF file for the embedded backend; default: the bundled Gemma 3 270M, or the promoted model.",
    )
    ollama_host: str = Field(default="http://127.0.0.1:11434", description="Ollama server address.")
    ollama_model: str = Field(default="gemma2:2b", description="Ollama model that writes SQL.")
    n_ctx: int = Field(default=2048, description="Context window of the embedded model, in tokens.")
    n_threads: int = Field(default=2, description="CPU threads of the embedded model.")
    max_tokens: int = Field(default=160, description="Most tokens generated for one SQL statement.")
    draft_tokens: int = Field(
        default=4, ge=0,
        description="Greedy decoding drafts up to this many tokens per model pass by n-gram lookup in the prompt and "
        "recent SQL (a match of the last 3 tokens), and the model verifies them in one batch (fewer passes; batched "
        "logits round differently, so near ties may resolve otherwise; 0: off; embedded model only).",
    )
    prompt_schema: Literal["auto", "tables", "none"] = Field(
        default="auto",
        description="What the prompt shows of the schema: auto (the format the served model was trained in; the "
        "retrieved tables for the bundled base), tables, or none (values named by the question only).",
    )
    tables_k: int = Field(default=4, description="Tables retrieved from the schema index per question.")
    examples_k: int = Field(default=4, description="Examples (approved and synthetic) retrieved per question.")
    example_min_similarity: float = Field(
        default=0.0, ge=0.0, le=1.0,
        description="Cosine similarity (all-MiniLM-L6-v2) below which an example is left out of the prompt: each "
        "example costs ~40 prompt tokens, and a model fine-tuned on the database needs only close ones.",
    )
    synthetic_examples: int = Field(
        default=2000, ge=0,
        description="Question/SQL pairs the schema synthesizer writes per database (validated by execution, built once "
        "per schema) to retrieve as examples beside approved ones, which win near ties (0: approved examples only).",
    )
    max_repairs: int = Field(default=2, description="Retries that feed an error back to the model.")
    candidates: int = Field(default=1, description="SQL candidates sampled per question (self-consistency when > 1).")
    constrain: bool = Field(default=True, description="Constrain/repair identifiers to the retrieved schema.")
    trim_vocab: bool = Field(
        default=True,
        description="Serve the embedded model from a copy whose vocabulary keeps Latin-script pieces and the schemas' names "
        "(same weights, a fifth of the output matrix: ~2x faster token generation).",
    )
    row_limit: int = Field(default=1000, description="Most rows a generated query may return.")
    timeout_s: float = Field(default=10.0, description="Time limit of one generated query, in seconds.")
    summarise_with_model: bool = Field(
        default=False, description="Let the model phrase the summary (checked against the rows) instead of a template."
    )


class LearnerConfig(BaseModel):
    threshold: int = Field(default=10, description="Unresolved failures of a database that start a training run.")
    auto: bool = Field(default=True, description="Start training runs automatically past the threshold.")
    teacher: Literal["none", "ollama"] = Field(default="none", description="Where synthetic pairs come from besides the schema synthesizer.")
    teacher_model: str = Field(default="llama3.1:8b", description="Ollama model that writes synthetic pairs.")
    synth_pairs: int = Field(default=400, description="Pairs the schema synthesizer aims for per database.")
    max_steps: int = Field(default=200, description="Most optimizer steps of one training run.")
    max_minutes: float = Field(default=15.0, description="Time limit of one training run's fine-tuning.")
    lora_r: int = Field(default=16, description="LoRA rank.")
    learning_rate: float = Field(default=2e-4, description="Fine-tuning learning rate.")
    batch_size: int = Field(default=8, description="Sequences per optimizer step.")
    prompt_schema: Literal["tables", "none"] = Field(
        default="none",
        description="Prompt format new models are trained in (and then asked in): none (the values the question names, "
        "no tables: ~3x fewer tokens per pair, so more pairs per training minute and shorter prompts), or tables.",
    )
    approved_weight: int = Field(default=3, description="Times an approved pair is repeated in the training set.")
    continue_training: bool = Field(
        default=True,
        description="Fine-tune on top of the active model, so that runs add up (false: every run starts from the bundled base).",
    )
    keep_checkpoints: bool = Field(
        default=False,
        description="Keep what a finished run can do without: its resume checkpoints and the float32 conversions of "
        "versions no run builds on (about 1.2 GB a run; false deletes them, models and adapters stay).",
    )


class Settings(BaseSettings):
    """askgres settings. Sources, highest first: init arguments, ``ASKGRES_*`` env vars,
    the TOML file, defaults."""

    model_config = SettingsConfigDict(env_prefix="ASKGRES_", env_nested_delimiter="__", extra="forbid")

    host: str = Field(default="127.0.0.1", description="Address the gateway listens on.")
    port: int = Field(default=5433, description="TCP port the gateway listens on (0 picks a free one).")
    data_dir: Path = Field(default_factory=default_data_dir, description="Where logs, indexes, failures and models live.")
    databases: list[DatabaseConfig] = Field(
        default_factory=list, description="Databases served; empty serves the Chinook demo (`chinook`, `chinook_duckdb`)."
    )
    users: dict[str, UserConfig] = Field(
        default_factory=dict, description="Users and passwords; empty means trust, on loopback only."
    )
    log_json: bool = Field(default=False, description="Log JSON lines instead of human-readable text.")
    log_level: str = Field(default="info", description="Lowest level logged (debug, info, warning, error).")
    statement_timeout_s: float = Field(default=0.0, description="Time limit of a plain SQL statement (0: none).")
    max_connections: int = Field(default=200, description="Most client connections at once (per worker).")
    workers: int = Field(
        default=1, ge=1, le=64,
        description="Server processes sharing the port (SO_REUSEPORT); one per core for throughput.",
    )
    ask: AskConfig = Field(default_factory=AskConfig, description="The ask pipeline (see `[ask]`).")
    learner: LearnerConfig = Field(default_factory=LearnerConfig, description="The learner (see `[learner]`).")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _TOML_FILE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def state_db(self) -> Path:
        """SQLite file (WAL) holding failures, pairs, training runs and the model registry."""
        return self.data_dir / "askgres.sqlite"


_TOML_FILE: dict[str, Path | None] = {"path": None}


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from ``config_file`` (TOML), the environment and ``overrides``."""
    _TOML_FILE["path"] = config_file
    try:
        return Settings(**overrides)
    finally:
        _TOML_FILE["path"] = None
