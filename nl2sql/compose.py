"""Stage ``prompt``: the prompt text, in the versioned format the learner trains on
(:func:`nl2sql.prompt.build_prompt`).

Stable parts come first (header, schema in the database's table order) so that
llama.cpp re-evaluates only the tail when consecutive questions share them. Examples are
ordered least similar first: the closest one sits right above the question. With
``ask.prompt_schema = "none"`` the tables are left out (a model fine-tuned on the database
in that format knows them); the values the question names stay.
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
    tables = env.config.prompt_schema != "none"
    state.prompt_version = prompt_version(env.config.prompt_schema)
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
