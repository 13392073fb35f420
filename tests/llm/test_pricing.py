from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from ha_ai_agent.config import Settings
from ha_ai_agent.llm.pricing import ModelPrice, PriceTable, TokenUsage
from pydantic import ValidationError


def test_defaults_price_the_default_model_and_its_dated_snapshots() -> None:
    table = PriceTable.load()
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000, cached_input_tokens=400_000)
    # 600k uncached input at 0.15, 400k cached at 0.075, 1M output at 0.60 per million.
    assert table.cost("gpt-4o-mini", usage) == pytest.approx(0.09 + 0.03 + 0.6)
    assert table.cost("gpt-4o-mini-2024-07-18", usage) == table.cost("gpt-4o-mini", usage)


def test_cached_input_costs_as_input_when_the_model_has_no_cached_price() -> None:
    table = PriceTable({"m": ModelPrice(input=2.0, output=4.0)})
    assert table.cost("m", TokenUsage(500_000, 0, 500_000)) == pytest.approx(1.0)


def test_unknown_model_has_no_cost_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    table = PriceTable.load()
    with caplog.at_level(logging.WARNING, logger="ha_ai_agent.llm.pricing"):
        assert table.cost("my-local-llama", TokenUsage(10, 10)) is None
        assert table.cost("my-local-llama", TokenUsage(10, 10)) is None
        assert table.cost("gpt-4o-mini", TokenUsage(10, 10)) is not None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "my-local-llama" in warnings[0].getMessage()


def test_file_then_environment_override_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps({"_comment": "mine", "gpt-4o-mini": {"input": 1, "output": 1}, "llama": {"input": 0, "output": 0}})
    )
    monkeypatch.setenv("HA_AGENT_PRICES_FILE", str(prices))
    monkeypatch.setenv("HA_AGENT_PRICES", json.dumps({"llama": {"input": 3, "output": 0}}))
    table = Settings(_env_file=None).price_table()
    assert table.cost("gpt-4o-mini", TokenUsage(1_000_000, 0)) == pytest.approx(1.0)
    assert table.cost("llama", TokenUsage(1_000_000, 0)) == pytest.approx(3.0)
    assert table.cost("gpt-4o", TokenUsage(1_000_000, 0)) == pytest.approx(2.5)  # defaults still there


@pytest.mark.parametrize("content", ["not json", '{"m": {"input": -1, "output": 0}}', "[]"])
def test_a_bad_price_file_fails_at_start_up_naming_the_setting(tmp_path: Path, content: str) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(content)
    with pytest.raises(ValidationError, match="prices_file"):
        Settings(prices_file=prices, _env_file=None)


def test_a_missing_price_file_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="prices_file"):
        Settings(prices_file=tmp_path / "absent.json", _env_file=None)
