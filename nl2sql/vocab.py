"""A GGUF with a trimmed vocabulary: the same model, a fifth of the output matrix.

Gemma 3's vocabulary has 262,144 tokens; its output matrix (tied to the embeddings,
262k x 640 in Q8_0, 178 MB) is 73% of what llama.cpp reads for every generated token, and
most of it is Devanagari, Bengali, Thai, CJK... that SQL over an English schema never
needs. :func:`trimmed_gguf` writes a copy of a GGUF that keeps

- every special token but the ``<unusedN>`` placeholders, and the 256 byte tokens (any
  text still tokenizes: what has no piece falls back to bytes);
- the normal tokens among the first :data:`TOP_IDS` ids (Gemma's ids follow merge order,
  so these are the most frequent pieces) written in Latin script, every single Latin
  character, every piece of ASCII punctuation, digits and spaces, and the pieces of
  :data:`SQL_WORDS`;
- the pieces of a corpus: the prompt template and the served schemas, their names in
  three casings, after a space or not (:func:`schema_corpus`), and the approved examples
  indexed when the model is loaded;
- every substring of a kept piece that is itself a token.

That last rule makes the trimmed tokenizer split text made of kept pieces exactly as the
full one does: llama.cpp's SentencePiece tokenizer merges the best-scored adjacent pair
whose union is a token, and every union it forms on the way to a kept piece is a
substring of it, hence kept; a union it forms with the full vocabulary is never missing,
and a union missing from the trimmed one was never chosen. Scores (merge priorities) are
copied. Token ids change (the file is self-consistent); the transformer weights are
copied byte for byte, so for a prompt made of kept pieces the logits of kept tokens are
the full model's, and greedy decoding writes the same SQL unless the full model's best
token was a dropped one.

Measured on this project's 2-core machine: see the README (bench/ask_latency ``--full-vocab``).
"""

from __future__ import annotations

import hashlib
import mmap
import os
import re
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import structlog

from connectors.base import SchemaInfo

log = structlog.get_logger("askgres.vocab")

TRIM_VERSION = 1
"""Bumped when the keep rule changes: a cached trimmed file of another version is rebuilt."""

TOP_IDS = 64_000
"""Normal tokens with an id below this (the most frequent pieces) are kept when Latin."""

LATIN_MAX = 0x24F
"""Highest code point counted as Latin script (Basic Latin to Latin Extended-B)."""

SQL_WORDS = (
    "SELECT DISTINCT FROM WHERE GROUP BY HAVING ORDER ASC DESC LIMIT OFFSET JOIN LEFT RIGHT INNER OUTER "
    "FULL CROSS ON USING AS AND OR NOT IN EXISTS BETWEEN LIKE ILIKE IS NULL UNION INTERSECT EXCEPT ALL "
    "CASE WHEN THEN ELSE END WITH CAST COUNT SUM AVG MIN MAX ROUND COALESCE IFNULL NULLIF LENGTH LOWER "
    "UPPER SUBSTR SUBSTRING TRIM REPLACE STRFTIME DATE TIME DATETIME JULIANDAY EXTRACT YEAR MONTH DAY "
    "INTEGER REAL TEXT VARCHAR NUMERIC BOOLEAN TRUE FALSE"
)

_STRING, _ARRAY, _UINT32 = 8, 9, 4
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_NORMAL, _BYTE = 1, 6
_UNUSED = re.compile(r"<unused\d+>")
_NO_LETTERS = re.compile(r"[\x00-\x40\x5b-\x60\x7b-\x7f\u2581]+")
"""ASCII punctuation, digits and spacing (``%'``, ``),``, ``  ``): SQL is full of them."""
_VOCAB_TENSORS = ("token_embd.weight", "output.weight")


@dataclass
class _Kv:
    key: str
    vtype: int
    start: int
    """Offset of the key's record (its name length)."""
    value: int
    """Offset of the value."""
    end: int


def _latin(text: str) -> bool:
    return all(ord(c) <= LATIN_MAX or c == "\u2581" for c in text)


def keep_ids(tokens: list[str], types: list[int], *, top_ids: int = TOP_IDS, extra: Iterable[int] = ()) -> list[int]:
    """The ids to keep, ascending (see the module docstring); ``extra``: ids that must stay
    (the pieces of a corpus, tokenized with the full vocabulary)."""
    index = {t: i for i, t in enumerate(tokens)}
    keep: set[int] = {i for i in extra if 0 <= i < len(tokens)}
    for i, (text, kind) in enumerate(zip(tokens, types)):
        if kind == _NORMAL:
            if _latin(text) and (i < top_ids or len(text) == 1 or _NO_LETTERS.fullmatch(text)):
                keep.add(i)
        elif kind == _BYTE or not _UNUSED.fullmatch(text):
            keep.add(i)
    for word in SQL_WORDS.split():
        for form in (word, word.lower(), word.capitalize()):
            for piece in (form, "\u2581" + form):
                if piece in index:
                    keep.add(index[piece])
    for i in list(keep):
        text = tokens[i]
        if types[i] != _NORMAL or len(text) < 2:
            continue
        for a in range(len(text)):
            for b in range(a + 1, len(text) + 1):
                j = index.get(text[a:b])
                if j is not None and types[j] == _NORMAL:
                    keep.add(j)
    return sorted(keep)


def _read_kvs(mm: mmap.mmap) -> tuple[int, list[_Kv]]:
    from learner.export import skip_value

    magic, version, _n_tensors, n_kv = struct.unpack_from("<IIQQ", mm, 0)
    if magic != 0x46554747 or version < 2:
        raise ValueError("not a GGUF v2+ file")
    pos = 24
    kvs = []
    for _ in range(n_kv):
        start = pos
        (n,) = struct.unpack_from("<Q", mm, pos)
        key = mm[pos + 8 : pos + 8 + n].decode("utf-8")
        pos += 8 + n
        (vtype,) = struct.unpack_from("<I", mm, pos)
        value = pos + 4
        pos = skip_value(mm, value, vtype)
        kvs.append(_Kv(key, vtype, start, value, pos))
    return version, kvs


def _string_spans(mm: mmap.mmap, kv: _Kv) -> list[tuple[int, int]]:
    """Where each item of a string array lies: ``(start, end)`` of its length and bytes."""
    etype, count = struct.unpack_from("<IQ", mm, kv.value)
    if etype != _STRING:
        raise ValueError(f"{kv.key}: not a string array")
    p = kv.value + 12
    spans = []
    for _ in range(count):
        (n,) = struct.unpack_from("<Q", mm, p)
        spans.append((p, p + 8 + n))
        p += 8 + n
    return spans


def _scalars(mm: mmap.mmap, kv: _Kv) -> tuple[int, bytes]:
    """``(element type, raw bytes)`` of a scalar array."""
    etype, count = struct.unpack_from("<IQ", mm, kv.value)
    size = _SCALAR_SIZES[etype]
    return etype, mm[kv.value + 12 : kv.value + 12 + count * size]


def _key_bytes(key: str) -> bytes:
    k = key.encode("utf-8")
    return struct.pack("<Q", len(k)) + k


def _string_array(mm: mmap.mmap, spans: list[tuple[int, int]], keep: list[int]) -> bytes:
    body = b"".join(mm[spans[i][0] : spans[i][1]] for i in keep)
    return struct.pack("<IIQ", _ARRAY, _STRING, len(keep)) + body


def _scalar_array(mm: mmap.mmap, kv: _Kv, keep: list[int]) -> bytes:
    etype, raw = _scalars(mm, kv)
    size = _SCALAR_SIZES[etype]
    body = b"".join(raw[i * size : (i + 1) * size] for i in keep)
    return struct.pack("<IIQ", _ARRAY, etype, len(keep)) + body


def _vocab(mm: mmap.mmap, by_key: dict[str, _Kv]) -> tuple[list[tuple[int, int]], list[str], list[int]]:
    """(spans of the token strings, the tokens, their types) of a GGUF's vocabulary."""
    spans = _string_spans(mm, by_key["tokenizer.ggml.tokens"])
    tokens = [mm[a + 8 : b].decode("utf-8", "replace") for a, b in spans]
    _, raw_types = _scalars(mm, by_key["tokenizer.ggml.token_type"])
    return spans, tokens, list(struct.unpack(f"<{len(tokens)}i", raw_types))


def served_ids(src: Path, corpus: Iterable[str] = ()) -> list[int]:
    """The ids (in ``src``'s full vocabulary) that :func:`trimmed_gguf` keeps for ``corpus``:
    the tokens a model served trimmed can write. Fine-tuning scores only these
    (:mod:`learner.train`), so its softmax is the one the gateway serves."""
    texts = list(corpus)
    extra = corpus_ids(src, texts) if texts else []  # no tokenizer to load for no text
    with open(src, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        _, kvs = _read_kvs(mm)
        _, tokens, types = _vocab(mm, {kv.key: kv for kv in kvs})
    return keep_ids(tokens, types, extra=extra)


def trim_file(src: Path, dst: Path, *, extra: Iterable[int] = ()) -> int:
    """Write ``dst``, ``src`` with a trimmed vocabulary; returns the number of tokens kept.
    Raises ``ValueError`` for a tokenizer this rule does not fit (BPE with merges)."""
    from learner.export import TensorInfo, read_layout, write_gguf

    layout = read_layout(src)
    with open(src, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        version, kvs = _read_kvs(mm)
        by_key = {kv.key: kv for kv in kvs}
        model = by_key.get("tokenizer.ggml.model")
        if model is None or "tokenizer.ggml.merges" in by_key:
            raise ValueError("only SentencePiece (llama-style) vocabularies are trimmed")
        spans, tokens, types = _vocab(mm, by_key)
        keep = keep_ids(tokens, types, extra=extra)
        new_id = {old: new for new, old in enumerate(keep)}

        parts = [struct.pack("<IIQQ", 0x46554747, version, len(layout.tensors), len(kvs))]
        for kv in kvs:
            if kv.key == "tokenizer.ggml.tokens":
                parts.append(_key_bytes(kv.key) + _string_array(mm, spans, keep))
            elif kv.key in ("tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
                parts.append(_key_bytes(kv.key) + _scalar_array(mm, kv, keep))
            elif kv.key.startswith("tokenizer.ggml.") and kv.key.endswith("_token_id") and kv.vtype == _UINT32:
                (old,) = struct.unpack_from("<I", mm, kv.value)
                if old not in new_id:
                    raise ValueError(f"{kv.key} {old} is not kept")
                parts.append(_key_bytes(kv.key) + struct.pack("<II", _UINT32, new_id[old]))
            else:
                parts.append(mm[kv.start : kv.end])
        head = b"".join(parts)

        blobs: list[tuple[TensorInfo, bytes | memoryview]] = []
        for info in layout.tensors:
            raw = memoryview(mm)[layout.data_start + info.offset : layout.data_start + info.offset + info.nbytes]
            if info.name in _VOCAB_TENSORS and len(info.dims) == 2 and info.dims[1] == len(tokens):
                row = info.nbytes // info.dims[1]
                rows = b"".join(raw[i * row : (i + 1) * row] for i in keep)
                blobs.append((TensorInfo(info.name, (info.dims[0], len(keep)), info.qtype, 0, len(rows)), rows))
                raw.release()
            else:
                blobs.append((info, raw))

        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as out:
                write_gguf(out, head=head, alignment=layout.alignment, blobs=blobs)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)
            for _, blob in blobs:
                if isinstance(blob, memoryview):
                    blob.release()
    return len(keep)


def schema_corpus(schemas: Iterable[SchemaInfo]) -> list[str]:
    """What the trimmed vocabulary must spell as the full one does: the prompt template and
    each schema as the prompt renders it, also upper- and lower-cased (models write
    ``ALBUM``, ``album`` and ``Album``)."""
    from nl2sql.prompt import SHORT_PROMPT_VERSION, build_prompt, render_schema

    out = [SQL_WORDS]
    for schema in schemas:
        out.append(build_prompt(question="", schema="", dialect=schema.dialect, database=schema.database))
        out.append(build_prompt(question="", schema="", values="-- Values: ", dialect=schema.dialect, database=schema.database,
                                version=SHORT_PROMPT_VERSION))
        text = render_schema(schema)
        out += [text, text.upper(), text.lower()]
        names = {t.name for t in schema.tables} | {c.name for t in schema.tables for c in t.columns}
        for name in sorted(names):
            for form in {name, name.upper(), name.lower()}:
                out += [form, " " + form]  # after "(" or "." and after a space: two different pieces
    return out


def corpus_ids(src: Path, corpus: Iterable[str]) -> list[int]:
    """The ids of ``corpus``'s pieces in ``src``'s full vocabulary (tokenizer only: no weights loaded)."""
    from nl2sql.llm import open_llama

    llm = open_llama(src, vocab_only=True)
    ids: set[int] = set()
    for text in corpus:
        ids.update(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))
    return sorted(ids)


def trimmed_gguf(src: Path, corpus: Iterable[str] = ()) -> Path:
    """The trimmed copy of ``src`` that keeps ``corpus``'s pieces too, written beside it
    (``<stem>.vocab-<hash>.gguf``) on first use and whenever ``src`` is newer. Falls back
    to ``src`` itself when its vocabulary cannot be trimmed or the folder is not writable."""
    from nl2sql.models import link_or_copy, shared_original

    src = Path(src)
    try:
        extra = corpus_ids(src, corpus)
        digest = hashlib.sha256(f"{TRIM_VERSION}:{TOP_IDS}:{extra}".encode()).hexdigest()[:12]
        dst = src.with_name(f"{src.stem}.vocab-{digest}.gguf")
        if _fresh(dst, src):
            return dst
        # a link of the machine-wide base: trim it there once, link the copy in here
        home = shared_original(src) or src
        built = home.with_name(dst.name)
        if not _fresh(built, home):
            kept = trim_file(home, built, extra=extra)
            log.info("vocab.trimmed", path=str(built), tokens=kept, size=built.stat().st_size)
            _drop_stale(home, keep=built)
        if built != dst:
            link_or_copy(built, dst)
            _drop_stale(src, keep=dst)
    except (OSError, ValueError) as e:
        log.warning("vocab.untrimmed", path=str(src), error=str(e))
        return src
    return dst


def _fresh(copy: Path, src: Path) -> bool:
    return copy.exists() and copy.stat().st_mtime >= src.stat().st_mtime


STALE_S = 3600.0
"""A trimmed copy of another corpus untouched this long is deleted when a new one is written."""


def _drop_stale(src: Path, *, keep: Path) -> None:
    """Delete older trimmed copies of ``src`` (another corpus: new approvals, a changed
    schema); a process still serving one keeps its mapping, deleted or not."""
    now = time.time()
    for old in src.parent.glob(f"{src.stem}.vocab-*.gguf"):
        try:
            if old != keep and now - old.stat().st_mtime > STALE_S:
                old.unlink()
        except OSError:
            pass
