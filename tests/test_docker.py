"""docker/: no Docker engine runs here, so check what can be checked without one: the files
parse, the commands the image runs exist in the package's CLI with the options used, the
configuration they name loads into :class:`Settings`, and the compose wiring matches it."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli import main as cli
from gateway.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
yaml = pytest.importorskip("yaml")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in (DOCKER / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def command_words(instr: str, args: str) -> list[list[str]]:
    """The shell commands in a RUN/CMD (exec or shell form), split at && ; |."""
    if args.startswith("["):
        import json

        return [json.loads(args)]
    cmds: list[list[str]] = []
    for part in re.split(r"&&|;|\|\|", args):
        try:
            words = shlex.split(part)
        except ValueError:
            continue
        if words:
            cmds.append(words)
    return cmds


def askgres_invocations() -> list[list[str]]:
    """Every ``askgres ...`` command line the image runs (build steps and CMD)."""
    found = []
    for instr, args in dockerfile_instructions():
        if instr in ("RUN", "CMD", "ENTRYPOINT"):
            for words in command_words(instr, args):
                if words and words[0] == "askgres":
                    found.append(words[1:])
    return found


def compose() -> dict[str, Any]:
    data = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def resolve(value: str) -> str:
    """Compose interpolation with defaults only: ``${X:-d}`` -> ``d``."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)


def test_dockerfile_stages_and_cmd() -> None:
    instrs = dockerfile_instructions()
    kinds = [i for i, _ in instrs]
    assert kinds.count("FROM") >= 1
    assert ("EXPOSE", "5433") in instrs
    cmd = [a for i, a in instrs if i == "CMD"]
    assert len(cmd) == 1
    words = command_words("CMD", cmd[0])[0]
    assert words[:2] == ["askgres", "serve"]
    assert words[words.index("--host") + 1] == "0.0.0.0"


def test_image_commands_exist_in_the_cli() -> None:
    runner = CliRunner()
    invocations = askgres_invocations()
    subs = {next(w for w in inv if not w.startswith("-") and not w.startswith("/")) for inv in invocations}
    assert {"serve", "demo"} <= subs
    for inv in invocations:
        # group-level options come before the subcommand
        i = next(k for k, w in enumerate(inv) if w in subs)
        group_opts, sub, sub_args = inv[:i], inv[i], inv[i + 1:]
        result = runner.invoke(cli, [sub, "--help"])
        assert result.exit_code == 0, (sub, result.output)
        for opt in [w for w in sub_args if w.startswith("--")]:
            assert opt in result.output, f"askgres {sub} has no option {opt}"
        group_help = runner.invoke(cli, ["--help"]).output
        for opt in [w for w in group_opts if w.startswith("--")]:
            assert opt in group_help, f"askgres has no group option {opt}"


def test_copied_sources_exist() -> None:
    for instr, args in dockerfile_instructions():
        if instr != "COPY" or args.startswith("--from"):
            continue
        *sources, _dest = shlex.split(args)
        for src in sources:
            assert (ROOT / src).exists(), f"COPY {src}: not in the build context"


def test_python_snippets_import() -> None:
    """``python -c "from X import Y"`` build steps name code that exists."""
    for instr, args in dockerfile_instructions():
        if instr != "RUN":
            continue
        for words in command_words(instr, args):
            if words[:2] != ["python", "-c"]:
                continue
            for mod, names in re.findall(r"from ([\w.]+) import ([\w, ]+)", words[2]):
                module = importlib.import_module(mod)
                for name in names.split(","):
                    assert hasattr(module, name.strip()), f"{mod}.{name.strip()}"


def test_config_file_loads_into_settings() -> None:
    instrs = dockerfile_instructions()
    cmd = command_words("CMD", next(a for i, a in instrs if i == "CMD"))[0]
    config_path = cmd[cmd.index("--config") + 1]
    copies = [shlex.split(a) for i, a in instrs if i == "COPY" and not a.startswith("--from")]
    assert ["docker/askgres.toml", config_path] in copies, "CMD's --config is not the copied askgres.toml"
    s = load_settings(DOCKER / "askgres.toml")
    assert s.users, "a non-loopback address needs users"
    assert s.port == 5433
    assert str(s.data_dir) == "/var/lib/askgres"


def test_compose_services_and_volumes() -> None:
    data = compose()
    services = data["services"]
    assert {"askgres", "ollama"} <= set(services)
    assert services["ollama"]["image"].startswith("ollama/ollama")
    app = services["askgres"]
    assert (ROOT / "docker" / app["build"]["context"] / app["build"]["dockerfile"]).resolve() == (DOCKER / "Dockerfile").resolve()
    data_dir = str(load_settings(DOCKER / "askgres.toml").data_dir)
    mounts = {v.split(":")[1]: v.split(":")[0] for v in app["volumes"]}
    assert data_dir in mounts, "no volume for the data directory"
    assert mounts[data_dir] in data["volumes"], "the data directory's volume is not declared"
    assert mounts.get("/etc/askgres/askgres.toml") == "./askgres.toml"
    assert any(p.split(":")[-1] == "5433" for p in app["ports"])


def test_compose_environment_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {k: resolve(str(v)) for k, v in compose()["services"]["askgres"]["environment"].items()}
    assert all(k.startswith("ASKGRES_") for k in env)
    # every variable names a real (nested) setting: unknown ones would be ignored silently
    for key in env:
        path = key[len("ASKGRES_"):].lower().split("__")
        model: Any = Settings
        for part in path:
            assert part in model.model_fields, f"{key}: no setting {part!r}"
            model = model.model_fields[part].annotation
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = load_settings(DOCKER / "askgres.toml")
    assert s.ask.ollama_host == "http://ollama:11434"
    assert s.ask.backend in ("llama", "ollama")
    assert "askgres" in s.users and s.users["askgres"].admin
