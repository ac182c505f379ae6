"""Stage ``retrieve``: the tables (with join paths and named values) and the approved
examples a question needs."""

from __future__ import annotations

import time

from nl2sql.state import AskState, Env


def retrieve(state: AskState, env: Env) -> None:
    t0 = time.perf_counter()
    cfg = env.config
    state.retrieved = env.schema_index.retrieve(env.db, state.question, k=cfg.tables_k)
    state.prompt_schema = env.schema_index.prompt_schema(env.db, state.retrieved)
    state.timed("retrieve", t0)
    t1 = time.perf_counter()
    state.examples = env.examples.search(state.database, state.question, k=cfg.examples_k, synthetic=env.synthetic,
                                             min_similarity=cfg.example_min_similarity)
    state.timed("examples", t1)
