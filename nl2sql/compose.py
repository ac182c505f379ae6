"""Stage ``prompt``: the prompt text, in the versioned format the learner trains on
(:func:`nl2sql.prompt.build_prompt`).

Stable parts come first (header, schema in the database's table order) so that
llama.cpp re-evaluates only the tail when consecutive questions share them. Examples are
ordered least similar first: the closest one sits right above the question. A model
fine-tuned without tables in its prompts (``learner.prompt_schema = "none"``, recorded
beside it) is asked without them too (``ask.prompt_schema = "auto"``): it knows the
database; the values the question names stay.
"""

from __future__ import annotations

import time

from nl2sql.prompt import build_prompt, prompt_version, render_schema, render_values
from nl2sql.state import AskState, Env


def compose(state: AskState, env: Env) -> None:
    t0 = time.perf_counter()
    schema = state.prompt_schema if state.prompt_schema is not None else env.schema
    # whitespace runs in example SQL (`T1.a  =  T2.b`) cost tokens and teach nothing
    examples = [(e.question, " ".join(e.sql.split())) for e in reversed(state.examples)]
    mode = env.config.prompt_schema
    if mode == "auto":  # as the served model was trained (the bundled base: with tables)
        mode = getattr(env.generator, "prompt_schema", None) or "tables"
    tables = mode != "none"
    state.prompt_version = prompt_version(mode)
    state.prompt = build_prompt(
        question=state.question,
        schema=render_schema(schema) if tables else "",
        values="" if tables or state.prompt_schema is None else render_values(state.prompt_schema),
        examples=examples,
        dialect=env.schema.dialect,
        database=state.database,
        version=state.prompt_version,
    )
    state.timed("prompt", t0)
