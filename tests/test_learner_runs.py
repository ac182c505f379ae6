"""Which model a training run builds on (``learner.runner.parent_model``), and how the gate weighs held-out questions."""

from __future__ import annotations

from pathlib import Path

from gateway.config import Settings
from learner import registry
from learner.runner import parent_model
from learner.runs import create_run
from nl2sql.store import Store


def _setup(tmp_path: Path) -> tuple[Store, Path, Path]:
    store = Store(tmp_path / "askgres.sqlite")
    base = tmp_path / "base.gguf"
    base.write_bytes(b"GGUF base")
    registry.ensure_base(store, base)
    tuned = tmp_path / "models" / "v1" / "model.gguf"
    tuned.parent.mkdir(parents=True)
    tuned.write_bytes(b"GGUF v1")
    registry.add_candidate(store, version="v1", path=tuned, parent=registry.BASE, run_id=None, accuracy=0.5)
    registry.promote(store, "v1")
    return store, base, tuned


def test_a_run_builds_on_the_model_active_when_it_began(tmp_path: Path) -> None:
    store, base, tuned = _setup(tmp_path)
    settings = Settings(data_dir=tmp_path)
    run = create_run(store, "db", base_model=registry.active_version(store))
    assert parent_model(settings, store, run, base) == ("v1", tuned)
    # a later rollback does not change the parent of a run already under way (it resumes on it)
    registry.rollback(store, registry.BASE)
    assert registry.active_version(store) == registry.BASE
    assert parent_model(settings, store, run, base) == ("v1", tuned)
    # a run created now starts from the (rolled back) base
    later = create_run(store, "db", base_model=registry.active_version(store))
    assert parent_model(settings, store, later, base) == (registry.BASE, base)


def test_continue_training_off_or_a_lost_file_falls_back_to_the_base(tmp_path: Path) -> None:
    store, base, tuned = _setup(tmp_path)
    run = create_run(store, "db", base_model="v1")
    off = Settings(data_dir=tmp_path, learner={"continue_training": False})
    assert parent_model(off, store, run, base) == (registry.BASE, base)
    tuned.unlink()
    assert parent_model(Settings(data_dir=tmp_path), store, run, base) == (registry.BASE, base)
    unknown = create_run(store, "db", base_model="v9")
    assert parent_model(Settings(data_dir=tmp_path), store, unknown, base) == (registry.BASE, base)


def test_gate_weighs_people_and_synthetic_questions_equally() -> None:
    from learner.gate import GateCase, group_accuracy

    cases = [GateCase("q", "s", "synth")] * 8 + [GateCase("p", "s", "approved"), GateCase("f", "s", "failure")]
    # right on every synthetic question, wrong on both real ones: half, not 80%
    mean, groups = group_accuracy(cases, [True] * 8 + [False, False])
    assert mean == 0.5 and groups == {"synthetic": (8, 1.0), "people": (2, 0.0)}
    # only one group: its accuracy
    assert group_accuracy(cases[:8], [True, False] * 4)[0] == 0.5
    assert group_accuracy([], [])[0] == 0.0


def test_a_finished_run_deletes_what_can_be_made_again(tmp_path: Path) -> None:
    from learner.runner import tidy
    from learner.runs import run_dir, update_run

    store, base, tuned = _setup(tmp_path)  # v1 active
    settings = Settings(data_dir=tmp_path)
    v2 = tmp_path / "models" / "v2" / "model.gguf"
    v2.parent.mkdir(parents=True)
    v2.write_bytes(b"GGUF v2")
    registry.add_candidate(store, version="v2", path=v2, parent="v1", run_id=None, accuracy=0.4)
    registry.refuse(store, "v2", note="worse")
    for version in ("v1", "v2"):
        (tmp_path / "models" / version / "hf").mkdir()
        (tmp_path / "models" / version / "hf" / "model.safetensors").write_bytes(b"weights")
    done = create_run(store, "db", base_model="v1")
    ckpt = run_dir(tmp_path, done) / "lora" / "checkpoints" / "checkpoint-4"
    ckpt.mkdir(parents=True)
    adapter = run_dir(tmp_path, done) / "lora" / "adapter"
    adapter.mkdir()
    update_run(store, done, status="refused")
    gone = tidy(settings, store, done)
    # the refused v2's conversion and the run's checkpoints go; the active v1's conversion
    # (the next run builds on it), every GGUF and the adapter stay
    assert sorted(gone) == sorted([ckpt.parent, v2.parent / "hf"])
    assert (tuned.parent / "hf" / "model.safetensors").exists() and tuned.exists() and v2.exists()
    assert adapter.is_dir()
    # an unfinished run's parent keeps its conversion though it is no longer active
    (tmp_path / "models" / "v2" / "hf").mkdir()
    resuming = create_run(store, "other", base_model="v2")
    update_run(store, resuming, status="interrupted")
    registry.rollback(store, registry.BASE)
    assert tidy(settings, store, done) == [tuned.parent / "hf"]
    assert (tmp_path / "models" / "v2" / "hf").is_dir()
