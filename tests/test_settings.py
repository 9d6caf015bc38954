"""Every setting is documented, and the defaults are the documented ones."""

from __future__ import annotations

from pathlib import Path

from dosi.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text()
    missing = [name for name in Settings.model_fields if f"`DOSI_{name.upper()}`" not in text]
    assert missing == []


def test_documented_defaults_match() -> None:
    text = DOC.read_text()
    for name, field in Settings.model_fields.items():
        default = field.default if field.default != "" else "(empty)"
        row = next(line for line in text.splitlines() if f"`DOSI_{name.upper()}`" in line)
        assert str(default) in row, (name, default, row)


def test_environment_is_read(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DOSI_PORT", "2026")
    monkeypatch.setenv("DOSI_DATABASE_URL", "postgresql://u@h/db")
    settings = Settings()
    assert settings.port == 2026 and settings.is_postgres
