"""The Ollama model backend: SQL written by a model served by Ollama (``ask.backend =
"ollama"``), through the official ``ollama`` client.

The prompt is sent ``raw`` (no chat template): it is the same completion-style prompt the
embedded model continues, so both backends share one prompt file and one version.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

from gateway.errors import PgError

log = structlog.get_logger("askgres.llm.ollama")


class ModelUnavailable(PgError):
    """The model backend cannot be used (server unreachable, model missing, server error).
    SQLSTATE 58000 (system_error): the fault is outside the question."""

    sqlstate = "58000"


class OllamaGenerator:
    """Completions from an Ollama server (implements ``nl2sql.llm.Generator``).

    ``host`` is the server address (``http://127.0.0.1:11434``), ``model`` an Ollama model
    name (``gemma2:2b``). ``version`` names the model in failure records; default
    ``ollama:<model>``. Calls block: run them in an executor.
    """

    def __init__(self, host: str, model: str, *, version: str | None = None, timeout: float = 120.0) -> None:
        import ollama

        self.host = host
        self.model = model
        self.version = version or f"ollama:{model}"
        self._client = ollama.Client(host=host, timeout=timeout)

    def complete(
        self,
        prompt: str,
        *,
        max_tokens: int,
        stop: list[str],
        temperature: float = 0.0,
        n: int = 1,
        seed: int | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[str]:
        """``n`` completions of ``prompt``. At temperature 0 decoding is greedy, so one
        request serves all ``n``; otherwise each sample gets its own seed (``seed + i``)."""
        if n < 1:
            return []
        calls = 1 if temperature <= 0 else n
        out: list[str] = []
        for i in range(calls):
            if should_stop is not None and should_stop():
                break  # the question was cancelled: a request under way finishes, no new one starts
            options: dict[str, Any] = {
                "temperature": temperature,
                "num_predict": max_tokens,
                "stop": list(stop),
                "repeat_penalty": 1.0,  # SQL repeats names by nature; as the embedded backend
            }
            if seed is not None:
                options["seed"] = seed + i
            out.append(self._generate(prompt, options))
        return out if calls == n else out * n

    def check(self) -> None:
        """Raise :class:`ModelUnavailable` unless the server answers and has the model."""
        self._call(lambda: self._client.show(self.model))

    def _generate(self, prompt: str, options: dict[str, Any]) -> str:
        t0 = time.perf_counter()
        resp = self._call(lambda: self._client.generate(model=self.model, prompt=prompt, raw=True, stream=False, options=options))
        text = str(resp.response or "")
        log.debug("llm.ollama.generate", model=self.model, ms=round((time.perf_counter() - t0) * 1000, 1),
                  prompt_tokens=resp.prompt_eval_count, tokens=resp.eval_count)
        return text

    def _call(self, fn: Any) -> Any:
        """Run one client call, turning its failures into :class:`ModelUnavailable`."""
        import httpx
        import ollama

        try:
            return fn()
        except ollama.ResponseError as e:
            if e.status_code == 404:
                raise ModelUnavailable(
                    f'Ollama model "{self.model}" not found on {self.host}',
                    detail=e.error,
                    hint=f"Run `ollama pull {self.model}` on the Ollama server, or set ask.ollama_model.",
                ) from e
            raise ModelUnavailable(f"Ollama server {self.host} failed: {e.error}", detail=f"HTTP {e.status_code}") from e
        except httpx.TimeoutException as e:
            raise ModelUnavailable(f"Ollama server {self.host} did not answer in time", detail=str(e)) from e
        except (ConnectionError, httpx.TransportError) as e:
            raise ModelUnavailable(
                f"Ollama server unreachable at {self.host}",
                detail=str(e),
                hint="Start Ollama (`ollama serve`) or set ask.ollama_host, or use ask.backend = \"llama\".",
            ) from e

    def __repr__(self) -> str:
        return f"OllamaGenerator(host={self.host!r}, model={self.model!r})"
