from __future__ import annotations

import pytest

from omni2qbd_shared.config import AppSettings


def test_defaults_run_on_one_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OMNI2QBD_DATABASE_URL", "OMNI2QBD_AMQP_URL", "OMNI2QBD_ENVIRONMENT"):
        monkeypatch.delenv(var, raising=False)
    settings = AppSettings(_env_file=None)
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.amqp_url == "amqp://guest:guest@127.0.0.1:5672/"
    assert settings.environment == "development"


def test_environment_variables_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNI2QBD_DATABASE_URL", "postgresql+asyncpg://u@db/x")
    monkeypatch.setenv("OMNI2QBD_MAPPER_PREFETCH", "7")
    settings = AppSettings(_env_file=None)
    assert settings.database_url == "postgresql+asyncpg://u@db/x"
    assert settings.mapper_prefetch == 7


def test_placeholder_secret_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNI2QBD_ENVIRONMENT", "production")
    monkeypatch.delenv("OMNI2QBD_SECRET_KEY", raising=False)
    with pytest.raises(ValueError, match="OMNI2QBD_SECRET_KEY") as info:
        AppSettings(_env_file=None)
    assert "omni2qbd secret-key" in str(info.value)


def test_real_secret_accepted_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNI2QBD_ENVIRONMENT", "production")
    monkeypatch.setenv("OMNI2QBD_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("OMNI2QBD_AMQP_URL", "amqp://omni2qbd:s3cret@rabbit:5672/")
    assert AppSettings(_env_file=None).environment == "production"


def test_default_rabbitmq_login_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNI2QBD_ENVIRONMENT", "production")
    monkeypatch.setenv("OMNI2QBD_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("OMNI2QBD_AMQP_URL", "amqp://guest:guest@rabbit:5672/")
    with pytest.raises(ValueError, match="guest/guest"):
        AppSettings(_env_file=None)
