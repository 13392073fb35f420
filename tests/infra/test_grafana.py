"""Grafana provisioning hangs together: datasource uids, dashboard files, alert rules and compose mounts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from ha_ai_agent.semconv import METRIC_COST, METRIC_LLM_ROUNDS, METRIC_PROMPT_TOKENS, STAGES

from .conftest import REPO_ROOT, load_yaml

PROVISIONING = REPO_ROOT / "grafana" / "provisioning"
DASHBOARDS = sorted((REPO_ROOT / "grafana" / "dashboards").glob("*.json"))


def datasources() -> dict[str, dict[str, Any]]:
    document = load_yaml(PROVISIONING / "datasources" / "datasources.yaml")
    return {source["uid"]: source for source in document["datasources"]}


def dashboard(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def test_datasource_links_point_at_provisioned_uids() -> None:
    sources = datasources()
    assert set(sources) == {"prometheus", "tempo", "jaeger"}
    prometheus, tempo = sources["prometheus"]["jsonData"], sources["tempo"]["jsonData"]
    assert {link["datasourceUid"] for link in prometheus["exemplarTraceIdDestinations"]} <= set(sources)
    assert tempo["serviceMap"]["datasourceUid"] in sources
    assert tempo["tracesToMetrics"]["datasourceUid"] in sources


def test_every_panel_query_names_a_provisioned_datasource() -> None:
    sources = datasources()
    assert DASHBOARDS
    for path in DASHBOARDS:
        for panel in dashboard(path)["panels"]:
            for target in panel["targets"]:
                uid = (target.get("datasource") or panel["datasource"])["uid"]
                assert uid in sources, f"{path.name}: {panel['title']} uses {uid}"


def test_chat_stages_dashboard_covers_every_stage_and_the_asked_panels() -> None:
    board = dashboard(REPO_ROOT / "grafana" / "dashboards" / "ha-ai-agent-chat-stages.json")
    assert board["title"] == "HA AI agent — chat stages"
    panel_ids = [panel["id"] for panel in board["panels"]]
    assert len(panel_ids) == len(set(panel_ids))
    queries = " ".join(target.get("expr", "") for panel in board["panels"] for target in panel["targets"])
    for stage in STAGES:
        assert stage in queries, f"no query covers {stage}"
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}," in queries
    assert 'service_name="ha-ai-agent"' in queries
    assert "gen_ai_client_token_usage" in queries
    for metric in (METRIC_PROMPT_TOKENS, METRIC_COST, METRIC_LLM_ROUNDS):  # tokens by prompt part, cost, rounds
        assert metric.replace(".", "_") in queries, metric
    assert any(target.get("queryType") == "traceql" for panel in board["panels"] for target in panel["targets"])


def test_alert_rules_query_provisioned_datasources() -> None:
    sources = datasources()
    for path in (PROVISIONING / "alerting").glob("*.yaml"):
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                for step in rule["data"]:
                    assert step["datasourceUid"] in {*sources, "__expr__"}, rule["title"]


def test_dashboard_provider_reads_the_folder_compose_mounts(compose: dict[str, Any]) -> None:
    provider = load_yaml(PROVISIONING / "dashboards" / "dashboards.yaml")["providers"][0]
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in compose["services"]["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]


def test_dashboards_are_what_the_generator_makes() -> None:
    generator = REPO_ROOT / "scripts" / "grafana_dashboards.py"
    result = subprocess.run([sys.executable, str(generator), "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
