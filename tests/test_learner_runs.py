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
