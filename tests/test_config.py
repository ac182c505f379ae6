"""The settings registry: TOML + ASKGRES_* env vars, and every setting documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from gateway.config import AskConfig, DatabaseConfig, LearnerConfig, Settings, UserConfig, load_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def setting_paths() -> list[str]:
    paths: list[str] = []
    nested: dict[str, tuple[str, type[BaseModel]]] = {
        "ask": ("ask.", AskConfig),
        "learner": ("learner.", LearnerConfig),
        "databases": ("databases[].", DatabaseConfig),
        "users": ("users.NAME.", UserConfig),
    }
    for name in Settings.model_fields:
        paths.append(name)
        if name in nested:
            prefix, model = nested[name]
            paths.extend(prefix + sub for sub in model.model_fields)
    return paths


def test_every_setting_has_a_description() -> None:
    for model in (Settings, AskConfig, LearnerConfig, DatabaseConfig, UserConfig):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_every_setting_is_documented_in_readme() -> None:
    text = README.read_text()
    missing = [p for p in setting_paths() if f"`{p}`" not in text]
    assert not missing, f"settings missing from README's table: {missing}"


def test_toml_then_env_then_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "askgres.toml"
    cfg.write_text(
        'port = 6000\nlog_level = "debug"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
        "[ask]\nmax_repairs = 5\ntables_k = 3\n"
        '[[databases]]\nname = "shop"\nkind = "sqlite"\npath = "/tmp/shop.sqlite"\n'
        '[users.alice]\npassword = "pw"\nadmin = true\n'
    )
    monkeypatch.setenv("ASKGRES_ASK__TABLES_K", "7")
    monkeypatch.setenv("ASKGRES_LOG_LEVEL", "warning")
    s = load_settings(cfg, port=6001)
    assert s.port == 6001  # argument beats file
    assert s.log_level == "warning"  # env beats file
    assert s.ask.tables_k == 7 and s.ask.max_repairs == 5
    assert s.databases[0].name == "shop" and s.databases[0].kind == "sqlite"
    assert s.users["alice"].admin is True
    assert s.data_dir == tmp_path / "data"


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("prot = 5\n")
    with pytest.raises(ValidationError):
        load_settings(cfg)
