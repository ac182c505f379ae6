"""Constrained decoding: identifiers come from the schema, token by token.

A GBNF grammar listing every name costs ~100 s per question with Gemma's 262k-token
vocabulary; this mask costs well under a millisecond per token. At each step it looks at
the SQL generated so far and, only where an identifier is being written, allows just the
tokens that continue a real name:

* after ``FROM`` / ``JOIN``: a table of the database (or a CTE, or ``(``);
* after ``name.``: a column of that table (resolved through aliases already written;
  an alias not yet defined, as in ``SELECT T1.x FROM ...``, allows the columns of every
  table in the prompt), or ``*``.

Everywhere else (keywords, functions, literals, unqualified columns) the model is free;
:func:`nl2sql.constrain.repair_identifiers` handles what remains after parsing. Token
texts are looked up through a dictionary of every prefix of the allowed names, so the
work per step is proportional to the names' length, not to the vocabulary.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterable
from typing import Any

import numpy as np

from connectors.base import SchemaInfo

_WORDCH = re.compile(r"[A-Za-z0-9_]")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_TABLE_CTX = re.compile(rf"(?is)\b(?:from|join)(\s*)({_IDENT})?$")
_DOT_CTX = re.compile(rf"(?s)({_IDENT})\.({_IDENT})?$")
_ALIAS = re.compile(rf"(?i)\b(?:from|join)\s+({_IDENT})(?:\s+(?:as\s+)?({_IDENT}))?")
_CTE = re.compile(rf"(?i)(?:\bwith\s+|,\s*)({_IDENT})\s+as\s*\(")
_KEYWORDS = frozenset(
    "on where join inner left right outer cross full group order limit having union intersect except as "
    "natural using select from and or not".split()
)
_DELIMS = (" ", ",", ")", ";", "\n")


class Vocab:
    """A model's token texts, indexed for prefix lookups."""

    def __init__(self, texts: list[str], *, eos: Iterable[int] = ()) -> None:
        self.size = len(texts)
        self.by_text: dict[str, list[int]] = {}
        delims: list[int] = []
        for tid, text in enumerate(texts):
            if not text:
                continue
            self.by_text.setdefault(text.lower(), []).append(tid)
            if not _WORDCH.match(text[0]):
                delims.append(tid)
        delims.extend(eos)
        self.delimiters = np.asarray(sorted(set(delims)), dtype=np.int64)

    def ids(self, text: str) -> list[int]:
        return self.by_text.get(text.lower(), [])


_vocabs: weakref.WeakKeyDictionary[Any, Vocab] = weakref.WeakKeyDictionary()
_vocab_lock = threading.Lock()


def vocab_for(gen: Any) -> Vocab:
    """The (cached) :class:`Vocab` of a generator that has ``token_texts()``."""
    with _vocab_lock:
        vocab = _vocabs.get(gen)
        if vocab is None:
            eos = [gen.token_eos()] if hasattr(gen, "token_eos") else []
            vocab = Vocab(gen.token_texts(), eos=eos)
            _vocabs[gen] = vocab
        return vocab


def _inside_string(text: str) -> bool:
    return text.count("'") % 2 == 1 or text.count('"') % 2 == 1


class IdentifierMask:
    """``mask(text so far) -> allowed token ids | None`` for one question's schema."""

    def __init__(self, vocab: Vocab, schema: SchemaInfo, prompt_schema: SchemaInfo) -> None:
        self.vocab = vocab
        self.tables = {t.name.lower(): t.name for t in schema.tables}
        self.columns = {t.name.lower(): [c.name for c in t.columns] for t in schema.tables}
        prompt_cols: dict[str, str] = {}
        for t in prompt_schema.tables:
            for c in t.columns:
                prompt_cols.setdefault(c.name.lower(), c.name)
        self.prompt_columns = list(prompt_cols.values())

    def __call__(self, text: str) -> np.ndarray | None:
        tail = text[-200:]
        if _inside_string(text):
            return None
        m = _TABLE_CTX.search(tail)
        if m is not None:
            space, partial = m.group(1), m.group(2) or ""
            if partial.lower() in _KEYWORDS:
                return None
            names = list(self.tables.values()) + _CTE.findall(text)
            return self._allowed(names, partial, need_space=not space and not partial, extra=[] if partial else ["("])
        m = _DOT_CTX.search(tail)
        if m is not None:
            qualifier, partial = m.group(1), m.group(2) or ""
            if qualifier.lower() in _KEYWORDS:
                return None
            columns = self._columns_of(qualifier, text)
            if columns is None:
                return None
            return self._allowed(columns, partial, need_space=False, extra=["*"] if not partial else [])
        return None

    def _columns_of(self, qualifier: str, text: str) -> list[str] | None:
        low = qualifier.lower()
        if low in self.tables:
            return self.columns[low]
        for table, alias in _ALIAS.findall(text):
            if alias and alias.lower() == low and table.lower() in self.tables:
                return self.columns[table.lower()]
        if _CTE.search(text):
            return None  # a CTE's columns are not known here
        return self.prompt_columns

    def _allowed(self, names: Iterable[str], partial: str, *, need_space: bool, extra: list[str]) -> np.ndarray | None:
        vocab = self.vocab
        low_partial = partial.lower()
        ids: list[int] = []
        complete = False
        matched = False
        spaces = (" ", "\n") if need_space else ("",)
        for name in names:
            low = name.lower()
            if not low.startswith(low_partial):
                continue
            matched = True
            rest = low[len(low_partial):]
            if not rest:
                complete = True
            for sp in spaces:
                for i in range(1, len(rest) + 1):
                    ids.extend(vocab.ids(sp + rest[:i]))
                for d in _DELIMS:
                    if rest:
                        ids.extend(vocab.ids(sp + rest + d))
        if not matched:
            return None  # the model left the schema already: do not force nonsense
        for sp in spaces:
            for e in extra:
                ids.extend(vocab.ids(sp + e))
            if need_space:
                ids.extend(vocab.ids(sp))
        out = np.asarray(ids, dtype=np.int64)
        if complete and not need_space:
            out = np.concatenate([out, vocab.delimiters])
        return out if out.size else None


def identifier_mask(gen: Any, schema: SchemaInfo, prompt_schema: SchemaInfo) -> IdentifierMask | None:
    """The mask for one question, or ``None`` when ``gen`` cannot tell its token texts."""
    if not hasattr(gen, "token_texts"):
        return None
    return IdentifierMask(vocab_for(gen), schema, prompt_schema)
