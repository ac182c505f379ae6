"""The gate: the candidate and the current model answer the same held-out questions
through the same pipeline; the candidate is promoted only if its execution accuracy is
not lower. The report is kept with the run.

The held-out questions come in two groups: people's pairs (approved, or failed questions
with correct SQL, never trained on) and the fixed synthetic validation set. Accuracy is
the mean of the two groups' accuracies, so that a handful of real questions is not
outweighed by sixty synthetic ones. Measured on Chinook (``bench/learning_curve``, with
one or two real questions in a pooled gate set of 61): the gate's accuracy rose run after
run (0.07, 0.21, 0.26, 0.29) while accuracy on real held-out questions went 19%, 5%, 2%,
24%: a synthetic-only gate does not track what users ask."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import structlog

from connectors.base import Backend
from gateway.config import Settings
from nl2sql.store import Store

log = structlog.get_logger("askgres.learner")


@dataclass
class GateCase:
    question: str
    sql: str
    source: str = ""


@dataclass
class GateReport:
    current_version: str
    candidate_version: str
    current_accuracy: float
    candidate_accuracy: float
    n: int
    promoted: bool
    per_case: list[dict[str, Any]] = field(default_factory=list)
    groups: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per group (``people``, ``synthetic``): ``n`` and each model's accuracy."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def model_accuracy(
    settings: Settings, store: Store, backends: dict[str, Backend], database: str,
    model_path: Path, version: str, cases: list[GateCase],
) -> tuple[float, list[bool]]:
    """Execution accuracy of one GGUF on ``cases`` through the ask pipeline, as the
    gateway serves it: with retrieved examples (approved and synthetic), but none with a
    case's question or SQL (:meth:`~nl2sql.examples.ExampleIndex.hide`): held-out pairs may
    sit in the example index, and the gate must measure the model, not the retrieval of the
    answer itself. (It asked without examples before: measured on Chinook, such a gate
    promoted models that answered fewer held-out questions with examples.)
    """
    from nl2sql.eval import EvalCase, evaluate
    from nl2sql.pipeline import Pipeline

    pipeline = Pipeline(settings, backends, store)
    pipeline.examples.hide((c.question, c.sql) for c in cases)
    pipeline.swap_generator(pipeline.load_generator(model_path, version))  # served as the gateway serves it
    pipeline.warm_synthetic([database])
    report = evaluate(pipeline, [EvalCase(question=c.question, sql=c.sql, database=database) for c in cases],
                      label=f"gate {version}")
    hits = [c.correct for c in report.cases]
    return report.accuracy, hits


PEOPLE_SOURCES = frozenset({"approved", "failure"})
"""Dataset sources of people's pairs (:mod:`learner.dataset`); everything else is synthetic."""


def group_of(case: GateCase) -> str:
    return "people" if case.source in PEOPLE_SOURCES else "synthetic"


def group_accuracy(cases: list[GateCase], hits: list[bool]) -> tuple[float, dict[str, tuple[int, float]]]:
    """The mean of the groups' accuracies, and ``group -> (n, accuracy)``."""
    by: dict[str, list[bool]] = {}
    for case, hit in zip(cases, hits):
        by.setdefault(group_of(case), []).append(hit)
    groups = {g: (len(h), sum(h) / len(h)) for g, h in by.items()}
    mean = sum(acc for _, acc in groups.values()) / len(groups) if groups else 0.0
    return mean, groups


def run_gate(
    settings: Settings, store: Store, backends: dict[str, Backend], database: str, cases: list[GateCase], *,
    current: tuple[str, Path], candidate: tuple[str, Path],
) -> GateReport:
    _, cur_hits = model_accuracy(settings, store, backends, database, current[1], current[0], cases)
    _, cand_hits = model_accuracy(settings, store, backends, database, candidate[1], candidate[0], cases)
    cur_acc, cur_groups = group_accuracy(cases, cur_hits)
    cand_acc, cand_groups = group_accuracy(cases, cand_hits)
    report = GateReport(
        current_version=current[0], candidate_version=candidate[0],
        current_accuracy=cur_acc, candidate_accuracy=cand_acc, n=len(cases),
        promoted=bool(cases) and cand_acc >= cur_acc,
        per_case=[{"question": c.question, "source": c.source, "current": a, "candidate": b}
                  for c, a, b in zip(cases, cur_hits, cand_hits)],
        groups={g: {"n": n, "current": acc, "candidate": cand_groups[g][1]} for g, (n, acc) in cur_groups.items()},
    )
    log.info("learn.gate", current=cur_acc, candidate=cand_acc, n=len(cases), promoted=report.promoted,
             groups=report.groups)
    return report
