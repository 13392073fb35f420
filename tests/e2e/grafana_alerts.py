"""The provisioned Grafana alert rules, read from their file and evaluated the way Grafana evaluates them.

Our rules all have one shape: a Prometheus instant query (A), a reduce to the last value of each series (B) and a
threshold on it (C, the condition). Grafana is not available here, so the tests send A to a real Prometheus
themselves and apply B and C; a rule of any other shape is refused rather than half-evaluated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from testsupport.backend_queries import ALERTING_DIR, prometheus_query

# Grafana's threshold evaluators for one value; the range ones take two params and are not used by our rules.
EVALUATORS = {"gt": lambda value, limit: value > limit, "lt": lambda value, limit: value < limit}


@dataclass(frozen=True)
class AlertRule:
    """One provisioned rule: its PromQL query and the threshold its condition applies to each series."""

    uid: str
    title: str
    expr: str
    evaluator: str
    threshold: float

    def fires_at(self, value: float) -> bool:
        """What the condition says for one series' last value (NaN, Grafana's no-number, never fires)."""
        return math.isfinite(value) and bool(EVALUATORS[self.evaluator](value, self.threshold))

    def evaluate(self, prometheus_url: str) -> list[tuple[dict[str, str], float]]:
        """Every series of the query now, with its labels and value (the alert instances Grafana would make)."""
        return [
            (dict(sample["metric"]), float(sample["value"][1]))
            for sample in prometheus_query(prometheus_url, self.expr)
        ]

    def firing(self, prometheus_url: str) -> list[dict[str, str]]:
        """The labels of the series whose condition holds now."""
        return [labels for labels, value in self.evaluate(prometheus_url) if self.fires_at(value)]


def _steps_by_ref(rule: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(step["refId"]): step for step in rule["data"]}


def parse_rule(rule: dict[str, Any]) -> AlertRule:
    """The query and threshold of a query -> reduce(last) -> threshold rule; ValueError for any other shape."""
    steps = _steps_by_ref(rule)
    condition = steps[rule["condition"]]["model"]
    if condition.get("type") != "threshold" or len(condition.get("conditions", [])) != 1:
        raise ValueError(f"{rule['title']}: the condition is not one threshold")
    reduce = steps[condition["expression"]]["model"]
    if reduce.get("type") != "reduce" or reduce.get("reducer") != "last":
        raise ValueError(f"{rule['title']}: the threshold does not apply to a reduce(last)")
    query = steps[reduce["expression"]]
    if query["datasourceUid"] != "prometheus" or not query["model"].get("instant"):
        raise ValueError(f"{rule['title']}: the reduced query is no Prometheus instant query")
    evaluator = condition["conditions"][0]["evaluator"]
    if evaluator["type"] not in EVALUATORS:
        raise ValueError(f"{rule['title']}: evaluator {evaluator['type']!r} is not supported by the tests")
    return AlertRule(
        uid=str(rule["uid"]),
        title=str(rule["title"]),
        expr=str(query["model"]["expr"]),
        evaluator=str(evaluator["type"]),
        threshold=float(evaluator["params"][0]),
    )


def provisioned_rules(directory: Path = ALERTING_DIR) -> dict[str, AlertRule]:
    """Every alert rule provisioned in the directory, by uid."""
    rules: dict[str, AlertRule] = {}
    for path in sorted(directory.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in document.get("groups", []):
            for rule in group.get("rules", []):
                parsed = parse_rule(rule)
                rules[parsed.uid] = parsed
    return rules
