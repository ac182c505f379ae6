"""A small server speaking Ollama's REST API, backed by a real GGUF model through
llama-cpp-python: a real model behind the real protocol, for tests of the Ollama backend
(and of the learner's teacher path) without an Ollama install.

Endpoints: ``GET /``, ``GET /api/version``, ``GET /api/tags``, ``GET /api/ps``,
``POST /api/show``, ``POST /api/generate`` (raw and templated, ``stream`` true or false as
NDJSON), ``POST /api/chat``. Errors answer as Ollama does: a status code and
``{"error": "..."}``; an unknown model is a 404.

Stdlib only (``http.server`` in a thread): ``start_ollama_server(model_path)`` returns
``(url, stop)``. The model runs one request at a time (llama.cpp contexts are not
thread-safe); concurrent requests queue.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

OLLAMA_VERSION = "0.6.2"
DEFAULT_MODEL = "gemma3:270m"
MAX_PREDICT = 512


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class _Model:
    """The loaded GGUF and what the listing endpoints say about it."""

    def __init__(self, path: Path, *, names: Sequence[str], n_ctx: int, n_threads: int) -> None:
        from llama_cpp import Llama

        self.path = path
        self.names = list(names)
        t0 = time.perf_counter_ns()
        self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
        self.load_ns = time.perf_counter_ns() - t0
        self.lock = threading.Lock()
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        self.digest = h.hexdigest()
        self.modified_at = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat().replace("+00:00", "Z")
        meta: dict[str, str] = dict(self.llm.metadata or {})
        self.metadata = meta
        self.family = meta.get("general.architecture", "unknown")
        self.template = meta.get("tokenizer.chat_template") or (GEMMA_TEMPLATE if self.family.startswith("gemma") else "")

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.metadata.get("general.size_label", ""),
            "quantization_level": _quantization(self.path.name),
        }

    def tag(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "model": name,
            "modified_at": self.modified_at,
            "size": self.path.stat().st_size,
            "digest": self.digest,
            "details": self.details(),
        }


def _quantization(filename: str) -> str:
    low = filename.lower()
    for q in ("q4_k_m", "q4_k_s", "q5_k_m", "q6_k", "q8_0", "q4_0", "f16", "bf16"):
        if q in low:
            return q.upper()
    return "unknown"


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _sampling(options: dict[str, Any], *, prompt_tokens: int, n_ctx: int) -> dict[str, Any]:
    """llama-cpp-python keyword arguments from Ollama ``options``."""
    num_predict = options.get("num_predict")
    wanted = MAX_PREDICT if num_predict is None or int(num_predict) < 0 else int(num_predict)
    kwargs: dict[str, Any] = {
        "max_tokens": max(1, min(wanted, n_ctx - prompt_tokens)),
        "temperature": float(options.get("temperature", 0.8)),
        "top_p": float(options.get("top_p", 0.9)),
        "top_k": int(options.get("top_k", 40)),
        "repeat_penalty": float(options.get("repeat_penalty", 1.1)),
        "stop": list(options.get("stop") or []),
    }
    if options.get("seed") is not None:
        kwargs["seed"] = int(options["seed"])
    return kwargs


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output quiet

    # -- plumbing ---------------------------------------------------------------
    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_text(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _stream(self, parts: Iterator[dict[str, Any]]) -> None:
        """NDJSON with chunked transfer encoding, one object per chunk, as Ollama streams."""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in parts:
            line = (json.dumps(part) + "\n").encode()
            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as e:
            raise _HttpError(400, f"invalid JSON: {e}") from e
        if not isinstance(body, dict):
            raise _HttpError(400, "request body must be a JSON object")
        return body

    def _model(self, body: dict[str, Any]) -> tuple[str, _Model]:
        name = str(body.get("model") or body.get("name") or "")
        if not name:
            raise _HttpError(400, "model is required")
        model = self.server.model
        if name not in model.names and f"{name}:latest" not in model.names:
            raise _HttpError(404, f'model "{name}" not found, try pulling it first')
        return name, model

    # -- routes -----------------------------------------------------------------
    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        model = self.server.model
        if self.path in ("/", ""):
            self._send_text(200, "Ollama is running")
        elif self.path == "/api/version":
            self._send_json(200, {"version": OLLAMA_VERSION})
        elif self.path == "/api/tags":
            self._send_json(200, {"models": [model.tag(n) for n in model.names]})
        elif self.path == "/api/ps":
            rows = [{**model.tag(n), "expires_at": _now(), "size_vram": 0} for n in model.names]
            self._send_json(200, {"models": rows})
        else:
            self._send_text(404, "404 page not found")

    def do_POST(self) -> None:  # noqa: N802
        routes: dict[str, Callable[[dict[str, Any]], None]] = {
            "/api/generate": self._generate,
            "/api/chat": self._chat,
            "/api/show": self._show,
        }
        route = routes.get(self.path)
        try:
            body = self._body()
            if route is None:
                self._send_text(404, "404 page not found")
                return
            route(body)
        except _HttpError as e:
            self._send_json(e.status, {"error": e.message})

    def _show(self, body: dict[str, Any]) -> None:
        name, model = self._model(body)
        self._send_json(
            200,
            {
                "license": "",
                "modelfile": f"# Modelfile generated by tests/ollama_server.py\nFROM {model.path}\n",
                "parameters": "",
                "template": model.template,
                "details": model.details(),
                "model_info": {k: v for k, v in model.metadata.items() if not k.startswith("tokenizer.ggml.")},
                "capabilities": ["completion"],
                "modified_at": model.modified_at,
            },
        )

    def _generate(self, body: dict[str, Any]) -> None:
        name, model = self._model(body)
        prompt = str(body.get("prompt") or "")
        stream = body.get("stream", True) is not False
        if not prompt and not body.get("system"):
            # Ollama answers an empty prompt by loading the model.
            done = {"model": name, "created_at": _now(), "response": "", "done": True, "done_reason": "load"}
            self._stream(iter([done])) if stream else self._send_json(200, done)
            return
        raw = bool(body.get("raw"))
        if raw:
            text = prompt
        else:
            messages = []
            if body.get("system"):
                messages.append({"role": "system", "content": str(body["system"])})
            messages.append({"role": "user", "content": prompt})
            text = _apply_template(model, messages)
        grammar = _grammar(body.get("format"))
        parts = self._run(model, name, text, body.get("options") or {}, grammar=grammar, key="response", raw=raw)
        if stream:
            self._stream(parts)
        else:
            self._send_json(200, _collect(parts, key="response"))

    def _chat(self, body: dict[str, Any]) -> None:
        name, model = self._model(body)
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise _HttpError(400, "messages must be a list")
        stream = body.get("stream", True) is not False
        if not messages:
            done = {"model": name, "created_at": _now(), "message": {"role": "assistant", "content": ""},
                    "done": True, "done_reason": "load"}
            self._stream(iter([done])) if stream else self._send_json(200, done)
            return
        text = _apply_template(model, [{"role": str(m.get("role", "user")), "content": str(m.get("content", ""))} for m in messages])
        grammar = _grammar(body.get("format"))
        parts = self._run(model, name, text, body.get("options") or {}, grammar=grammar, key="message", raw=True)
        if stream:
            self._stream(parts)
        else:
            self._send_json(200, _collect(parts, key="message"))

    def _run(
        self, model: _Model, name: str, text: str, options: dict[str, Any], *, grammar: Any, key: str, raw: bool
    ) -> Iterator[dict[str, Any]]:
        """Generate from ``text``; yields Ollama stream parts, the last one with ``done``."""
        if not isinstance(options, dict):
            raise _HttpError(400, "options must be an object")
        llm = model.llm
        start = time.perf_counter_ns()
        tokens = llm.tokenize(text.encode(), add_bos=True, special=True)
        kwargs = _sampling(options, prompt_tokens=len(tokens), n_ctx=llm.n_ctx())
        if not raw or key == "message":
            kwargs["stop"] = [*kwargs["stop"], "<end_of_turn>"]

        def wrap(piece: str) -> dict[str, Any]:
            content: Any = {"role": "assistant", "content": piece} if key == "message" else piece
            return {"model": name, "created_at": _now(), key: content, "done": False}

        def parts() -> Iterator[dict[str, Any]]:
            out: list[str] = []
            finish = "stop"
            with model.lock:
                t_first: int | None = None
                for chunk in llm.create_completion(text, stream=True, grammar=grammar, **kwargs):
                    choice = chunk["choices"][0]  # type: ignore[index]
                    if t_first is None:
                        t_first = time.perf_counter_ns()
                    piece = choice.get("text") or ""
                    if piece:
                        out.append(piece)
                        yield wrap(piece)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            end = time.perf_counter_ns()
            completion = "".join(out)
            n_out = len(llm.tokenize(completion.encode(), add_bos=False, special=True)) if completion else 0
            first = t_first or end
            final = wrap("")
            final.update(
                done=True,
                done_reason="length" if finish == "length" else "stop",
                total_duration=end - start,
                load_duration=0,
                prompt_eval_count=len(tokens),
                prompt_eval_duration=first - start,
                eval_count=n_out,
                eval_duration=end - first,
            )
            if not raw and key == "response":
                final["context"] = list(tokens) + list(llm.tokenize(completion.encode(), add_bos=False, special=True))
            yield final

        return parts()


def _collect(parts: Iterator[dict[str, Any]], *, key: str) -> dict[str, Any]:
    """A non-streamed answer: the stream's pieces joined into its final object."""
    pieces: list[str] = []
    final: dict[str, Any] = {}
    for part in parts:
        content = part[key]["content"] if key == "message" else part[key]
        pieces.append(content)
        final = part
    text = "".join(pieces)
    final[key] = {"role": "assistant", "content": text} if key == "message" else text
    return final


# Ollama's gemma3 template (Go text/template), reported by /api/show and applied below.
GEMMA_TEMPLATE = """{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if or (eq .Role "user") (eq .Role "system") }}<start_of_turn>user
{{ .Content }}<end_of_turn>
{{ if $last }}<start_of_turn>model
{{ end }}
{{- else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}{{ if not $last }}<end_of_turn>
{{ end }}
{{- end }}
{{- end }}"""


def _apply_template(model: _Model, messages: list[dict[str, str]]) -> str:
    """The chat template applied to ``messages``, ending where the assistant's turn begins:
    the GGUF's own Jinja template when it has one, else Gemma's turn format (what Ollama's
    gemma3 Modelfile uses: system and user turns as ``user``, assistant as ``model``)."""
    llm = model.llm
    bos = llm.detokenize([llm.token_bos()]).decode(errors="ignore")
    if model.template and model.template != GEMMA_TEMPLATE:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        formatter = Jinja2ChatFormatter(
            template=model.template,
            eos_token=llm.detokenize([llm.token_eos()]).decode(errors="ignore"),
            bos_token=bos,
        )
        prompt = formatter(messages=messages).prompt  # type: ignore[arg-type]
    elif model.family.startswith("gemma"):
        turns = []
        for m in messages:
            role = "model" if m["role"] == "assistant" else "user"
            turns.append(f"<start_of_turn>{role}\n{m['content']}<end_of_turn>\n")
        prompt = "".join(turns) + "<start_of_turn>model\n"
    else:
        prompt = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
    # tokenize() adds BOS itself; drop a template's copy so it is not doubled.
    return prompt[len(bos):] if bos and prompt.startswith(bos) else prompt


def _grammar(fmt: Any) -> Any:
    """``format``: ``"json"`` or a JSON schema, as a llama.cpp grammar (None otherwise)."""
    if not fmt:
        return None
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if fmt == "json":
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    if isinstance(fmt, dict):
        return LlamaGrammar.from_json_schema(json.dumps(fmt), verbose=False)
    raise _HttpError(400, f"invalid format: {fmt!r}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    model: _Model


def start_ollama_server(
    model_path: str | Path,
    *,
    models: Sequence[str] = (DEFAULT_MODEL,),
    host: str = "127.0.0.1",
    n_ctx: int = 4096,
    n_threads: int = 2,
) -> tuple[str, Callable[[], None]]:
    """Load ``model_path`` and serve it under the names ``models`` on a free port.

    Returns ``(url, stop)``: ``url`` like ``http://127.0.0.1:PORT`` (for
    ``ollama.Client(host=url)``), ``stop()`` shuts the server down and frees the model.
    """
    model = _Model(Path(model_path), names=models, n_ctx=n_ctx, n_threads=n_threads)
    server = _Server((host, 0), _Handler)
    server.model = model
    thread = threading.Thread(target=server.serve_forever, name="ollama-test-server", daemon=True)
    thread.start()
    port = server.server_address[1]

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with model.lock:
            model.llm.close()

    return f"http://{host}:{port}", stop
