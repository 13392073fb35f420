"""What an LLM call costs: a price table per model, applied to the usage the API reported.

Prices are USD per million tokens (input, cached input, output). The defaults ship in ``prices.json`` beside
this module; a user's file (``HA_AGENT_PRICES_FILE``) and then ``HA_AGENT_PRICES`` (JSON in the environment)
override or add models. A model that is in no table has no cost: the caller leaves the attribute out rather
than write 0, and the first such call logs one warning per model.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field, TypeAdapter

_logger = logging.getLogger(__name__)

DEFAULT_PRICES_FILE = Path(__file__).with_name("prices.json")
#: OpenAI answers with a dated snapshot ("gpt-4o-mini-2024-07-18") of the model asked for ("gpt-4o-mini").
_DATE_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")
_PER_TOKENS = 1_000_000


class ModelPrice(BaseModel):
    """USD per million tokens of one model; cached input costs as much as input unless priced."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(None, ge=0)


_TABLE = TypeAdapter(dict[str, ModelPrice])


def read_price_file(path: Path) -> dict[str, ModelPrice]:
    """A price file: ``{"model": {"input": 0.15, "cached_input": 0.075, "output": 0.6}, ...}``.

    Keys starting with ``_`` are comments. Raises ``ValueError`` (pydantic's) or ``OSError`` when unreadable.
    """
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a price file is a JSON object of model names")
    return _TABLE.validate_python({name: value for name, value in raw.items() if not name.startswith("_")})


@dataclass(frozen=True)
class TokenUsage:
    """Tokens one or more LLM calls used, as the API reported them (cached input is part of input)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0


class PriceTable:
    """Looks up a model's price (exactly, else without a date suffix) and prices reported usage."""

    def __init__(self, prices: Mapping[str, ModelPrice]) -> None:
        self._prices = dict(prices)
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, file: Path | None = None, overrides: Mapping[str, ModelPrice] | None = None) -> PriceTable:
        """The shipped defaults, then the user's file, then ``overrides``: a later source wins per model."""
        prices = read_price_file(DEFAULT_PRICES_FILE)
        if file is not None:
            prices.update(read_price_file(file))
        prices.update(overrides or {})
        return cls(prices)

    def price(self, model: str) -> ModelPrice | None:
        """The price of ``model``, or None when no table has it."""
        return self._prices.get(model) or self._prices.get(_DATE_SUFFIX.sub("", model))

    def cost(self, model: str, usage: TokenUsage) -> float | None:
        """USD for ``usage`` of ``model``; None (and one warning per model per process) when it has no price."""
        price = self.price(model)
        if price is None:
            with self._lock:
                first = model not in self._warned
                self._warned.add(model)
            if first:
                _logger.warning("No price for model %r: its calls get no cost (add it to HA_AGENT_PRICES_FILE)", model)
            return None
        cached = min(usage.cached_input_tokens, usage.input_tokens)
        cached_price = price.input if price.cached_input is None else price.cached_input
        return (
            (usage.input_tokens - cached) * price.input + cached * cached_price + usage.output_tokens * price.output
        ) / _PER_TOKENS
