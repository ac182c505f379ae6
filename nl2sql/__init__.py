"""Questions in, SQL and rows out: retrieve -> prompt -> generate -> validate -> repair ->
execute -> summarise (composed in :mod:`nl2sql.pipeline`).

Where things are:

* :mod:`nl2sql.intercept` - is a statement a question (``-- ask:`` / ``/* ask: */``)?
* :mod:`nl2sql.service` - :class:`~nl2sql.service.AskService`, what the gateway calls
* :mod:`nl2sql.pipeline` - the stages, declared as data; :class:`~nl2sql.pipeline.Pipeline`
* :mod:`nl2sql.retrieve`, :mod:`nl2sql.schema_index`, :mod:`nl2sql.examples`, :mod:`nl2sql.embed`
  - tables, join paths, named values and approved examples (LanceDB, all-MiniLM-L6-v2)
* :mod:`nl2sql.compose`, :mod:`nl2sql.prompt` - the versioned prompt (shared with the learner)
* :mod:`nl2sql.generate`, :mod:`nl2sql.llm`, :mod:`nl2sql.llm_ollama`, :mod:`nl2sql.models`,
  :mod:`nl2sql.grammar` - the model, which GGUF, token masks for identifiers
* :mod:`nl2sql.repair`, :mod:`nl2sql.validate`, :mod:`nl2sql.constrain`, :mod:`nl2sql.execute`
  - one read-only query whose names exist, errors fed back, run read-only
* :mod:`nl2sql.summarise` - the sentence; :mod:`nl2sql.failures` - the failure log;
  :mod:`nl2sql.admin` - SQL on the ``askgres`` schema; :mod:`nl2sql.cli` - ``askgres failures``
"""
