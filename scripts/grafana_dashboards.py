"""Generates grafana/dashboards/*.json with Grafana's typed SDK (grafana-foundation-sdk); the JSON stays checked in.

    python scripts/grafana_dashboards.py           # write the files
    python scripts/grafana_dashboards.py --check   # exit 1 if a checked-in file differs from what this generates

Every span, service, metric and attribute name comes from ``ha_ai_agent.semconv``: a renamed stage changes the
dashboard with it, and tests/telemetry checks the result against the same names.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, common, dashboard, prometheus, stat, table, tempo, timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models.dashboard import DashboardCursorSync, DataSourceRef
from grafana_foundation_sdk.models.prometheus import PromQueryFormat
from ha_ai_agent.semconv import (
    CHAT_SERVER_SPAN,
    CHAT_SERVER_SPANS,
    GEN_AI_EVALUATION_SCORE_LABEL,
    METRIC_ATTR_PROMPT_PART,
    METRIC_COST,
    METRIC_FEEDBACK,
    METRIC_LLM_ROUNDS,
    METRIC_PROMPT_TOKENS,
    SERVICE_NAME,
    STAGES,
    THUMBS_DOWN,
)

DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "grafana" / "dashboards"
PROMETHEUS = DataSourceRef(type_val="prometheus", uid="prometheus")
TEMPO = DataSourceRef(type_val="tempo", uid="tempo")
JAEGER = DataSourceRef(type_val="jaeger", uid="jaeger")
JAEGER_UI = "http://localhost:16686"


def prom(name: str) -> str:
    """A metric or attribute name as Prometheus' OTLP receiver writes it (units in braces add no suffix)."""
    return name.replace(".", "_")


SERVICE = f'service_name="{SERVICE_NAME}"'
STAGE_SELECTOR = f'{SERVICE}, span_name=~"{"|".join(STAGES)}"'
CHAT_SELECTOR = f'{SERVICE}, span_name=~"{"|".join(CHAT_SERVER_SPANS)}"'
SPAN_BUCKETS = "traces_span_metrics_duration_milliseconds_bucket"
SPAN_CALLS = "traces_span_metrics_calls_total"
CHATS_IN_RANGE = f"sum(increase({SPAN_CALLS}{{{CHAT_SELECTOR}}}[$__range]))"
PROMPT_PART = prom(METRIC_ATTR_PROMPT_PART)


@dataclass
class JaegerSearch(Dataquery):
    """A Jaeger datasource search (the SDK has no Jaeger query type)."""

    ref_id: str
    service: str
    operation: str
    limit: int

    def to_json(self) -> dict[str, Any]:
        """The target as Grafana stores it."""
        return {
            "refId": self.ref_id,
            "datasource": JAEGER.to_json(),
            "queryType": "search",
            "service": self.service,
            "operation": self.operation,
            "limit": self.limit,
        }


class JaegerSearchBuilder(Builder[JaegerSearch]):
    """Builds a ``JaegerSearch`` for a panel's ``with_target``."""

    def __init__(self, service: str, operation: str, limit: int) -> None:
        self._query = JaegerSearch("A", service, operation, limit)

    def build(self) -> JaegerSearch:
        """The query."""
        return self._query


def query(
    ref_id: str, expr: str, legend: str, *, instant: bool = False, as_table: bool = False
) -> prometheus.Dataquery:
    """A Prometheus target."""
    target = prometheus.Dataquery().ref_id(ref_id).datasource(PROMETHEUS).expr(expr).legend_format(legend)
    target = target.instant() if instant else target.range()
    return target.format(PromQueryFormat.TABLE if as_table else PromQueryFormat.TIME_SERIES)


def stage_quantile(quantile: str, window: str) -> str:
    """A latency quantile of every stage over ``window``."""
    return (
        f"histogram_quantile({quantile}, sum by (le, span_name) (rate({SPAN_BUCKETS}{{{STAGE_SELECTOR}}}[{window}])))"
    )


#: A panel's size on the dashboard's grid: (height, width of 24).
Size = tuple[int, int]
#: A panel's Prometheus queries as (expression, legend); their ref ids are A, B, ... in this order.
Queries = list[tuple[str, str]]


def panel(
    kind: Callable[[], Any],
    title: str,
    size: Size,
    unit: str | None,
    queries: Queries,
    *,
    description: str | None = None,
    decimals: int | None = None,
    datasource: DataSourceRef = PROMETHEUS,
    instant: bool = False,
    as_table: bool = False,
) -> Any:
    """A panel of ``kind`` (a panel builder) with what every panel of the dashboard sets."""
    built = kind().title(title).datasource(datasource).height(size[0]).span(size[1])
    for index, (expr, legend) in enumerate(queries):
        built = built.with_target(query(chr(ord("A") + index), expr, legend, instant=instant, as_table=as_table))
    if description is not None:
        built = built.description(description)
    if unit is not None:
        built = built.unit(unit)
    return built if decimals is None else built.decimals(decimals)


def series(title: str, size: Size, unit: str, queries: Queries, **options: Any) -> Any:
    """A time series panel, every series in the tooltip, largest first."""
    tooltip = common.VizTooltipOptions().mode(common_models.TooltipDisplayMode.MULTI)
    return panel(timeseries.Panel, title, size, unit, queries, **options).tooltip(
        tooltip.sort(common_models.SortOrder.DESCENDING)
    )


def number(title: str, description: str, unit: str, decimals: int, size: Size, queries: Queries) -> Any:
    """A stat panel showing the last value of its (instant) queries."""
    return (
        panel(stat.Panel, title, size, unit, queries, description=description, decimals=decimals, instant=True)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .color_mode(common_models.BigValueColorMode.NONE)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .text_mode(common_models.BigValueTextMode.VALUE_AND_NAME)
    )


def stage_panels() -> list[Any]:
    """Latency, calls and errors per stage, from the collector's span metrics."""
    calls = f"{SPAN_CALLS}{{{STAGE_SELECTOR}}}[$__rate_interval]"
    errors = f'{SPAN_CALLS}{{{STAGE_SELECTOR}, status_code="STATUS_CODE_ERROR"}}[$__rate_interval]'
    return [
        panel(
            table.Panel,
            "Stage latency p50 / p95 / p99 (ms, over the dashboard range)",
            (9, 12),
            "ms",
            [(stage_quantile(quantile, "$__range"), "__auto") for quantile in ("0.5", "0.95", "0.99")],
            description="From the collector's span_metrics histogram of each chat stage span "
            f"(service {SERVICE_NAME}).",
            decimals=1,
            instant=True,
            as_table=True,
        ).show_header(True),
        series(
            "Stage latency p95 over time",
            (9, 12),
            "ms",
            [(stage_quantile("0.95", "$__rate_interval"), "{{span_name}}")],
        ).legend(
            common.VizLegendOptions()
            .placement(common_models.LegendPlacement.RIGHT)
            .display_mode(common_models.LegendDisplayMode.TABLE)
            .show_legend(True)
        ),
        series(
            "Calls per stage (per second)", (8, 12), "reqps", [(f"sum by (span_name) (rate({calls}))", "{{span_name}}")]
        ),
        series(
            "Errors per stage (per second)",
            (8, 12),
            "reqps",
            [(f"sum by (span_name) (rate({errors})) or sum by (span_name) (0 * rate({calls}))", "{{span_name}}")],
            description="Spans that ended with status ERROR; stages without errors show 0 rather than no data.",
        ),
    ]


def llm_panels() -> list[Any]:
    """Tokens, rounds, cost and latency of a chat request."""
    tokens = 'sum(increase(gen_ai_client_token_usage_sum{{{service}, gen_ai_token_type="{kind}"}}[$__range]))'
    part_sum = f"sum by ({PROMPT_PART}) (increase({prom(METRIC_PROMPT_TOKENS)}_sum{{{SERVICE}}}[$__range]))"
    part_count = f"sum by ({PROMPT_PART}) (increase({prom(METRIC_PROMPT_TOKENS)}_count{{{SERVICE}}}[$__range]))"
    rounds = f"sum by (le) (rate({prom(METRIC_LLM_ROUNDS)}_bucket{{{SERVICE}}}[$__range]))"
    cost = f"{prom(METRIC_COST)}_total{{{SERVICE}}}"
    return [
        number(
            "LLM tokens per chat request",
            "gen_ai.client.token.usage (GenAI semantic-convention histogram recorded by the OpenAI instrumentation) "
            f"divided by the number of {' and '.join(CHAT_SERVER_SPANS)} spans, over the dashboard range.",
            "none",
            0,
            (6, 8),
            [
                (f"{tokens.format(service=SERVICE, kind=kind)} / {CHATS_IN_RANGE}", f"{kind} tokens")
                for kind in ("input", "output")
            ],
        ),
        number(
            "LLM rounds per chat request",
            f"{METRIC_LLM_ROUNDS}: the model round trips of one answered chat (a tool call adds one).",
            "none",
            1,
            (6, 8),
            [(f"histogram_quantile(0.5, {rounds})", "p50"), (f"histogram_quantile(0.95, {rounds})", "p95")],
        ),
        number(
            "Chat request latency p95",
            "The server span of a chat, from span_metrics.",
            "ms",
            0,
            (6, 8),
            [(f"histogram_quantile(0.95, sum by (le) (rate({SPAN_BUCKETS}{{{CHAT_SELECTOR}}}[$__range])))", "p95")],
        ),
        bargauge.Panel()
        .title("Input tokens per chat, by prompt part (estimated)")
        .description(
            f"{METRIC_PROMPT_TOKENS}: what message_assembly counted for each part of the prompt (system "
            "instructions, each home-context section, the kept history, the new message), mean per chat."
        )
        .datasource(PROMETHEUS)
        .with_target(query("A", f"{part_sum} / {part_count}", f"{{{{{PROMPT_PART}}}}}", instant=True))
        .unit("none")
        .decimals(0)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .orientation(common_models.VizOrientation.HORIZONTAL)
        .height(8)
        .span(12),
        series(
            "LLM cost per hour (USD)",
            (8, 8),
            "currencyUSD",
            [(f"sum by (gen_ai_response_model) (rate({cost}[$__rate_interval])) * 3600", "{{gen_ai_response_model}}")],
            description=f"{METRIC_COST}: the reported usage of each LLM call priced with the service's price table, "
            "per model. Calls of a model without a price are not counted (the service logs a warning).",
            decimals=4,
        ),
        number(
            "LLM cost per chat request",
            f"{METRIC_COST} over the range divided by the chats.",
            "currencyUSD",
            5,
            (8, 4),
            [(f"sum(increase({cost}[$__range])) / {CHATS_IN_RANGE}", "USD per chat")],
        ),
    ]


def feedback_panels() -> list[Any]:
    """Users' verdicts on answers (thumbs up / down), by label only."""
    label = prom(GEN_AI_EVALUATION_SCORE_LABEL)
    verdicts = f"{prom(METRIC_FEEDBACK)}_total{{{SERVICE}}}"
    downs = f'{prom(METRIC_FEEDBACK)}_total{{{SERVICE}, {label}="{THUMBS_DOWN}"}}'
    return [
        series(
            "User verdicts per hour, by label",
            (8, 16),
            "none",
            [(f"sum by ({label}) (rate({verdicts}[$__rate_interval])) * 3600", f"{{{{{label}}}}}")],
            description=f"{METRIC_FEEDBACK}: thumbs up / down users gave answers on the chat page (POST .../feedback). "
            "Each is also a gen_ai.evaluation.result event in the answer's trace, where Jaeger shows it.",
            decimals=1,
        ),
        number(
            "Thumbs down share",
            f"{THUMBS_DOWN} verdicts among all verdicts over the dashboard range (a later verdict on the same "
            "answer counts again).",
            "percentunit",
            1,
            (8, 8),
            [(f"sum(increase({downs}[$__range])) / sum(increase({verdicts}[$__range]))", "thumbs down")],
        ),
    ]


def trace_panels() -> list[Any]:
    """The slowest recent chats in Tempo and Jaeger, each a link to its trace, slowest first."""
    traceql = f'{{resource.service.name="{SERVICE_NAME}" && name=~"{"|".join(CHAT_SERVER_SPANS)}"}}'
    tempo_search = tempo.TempoQuery().ref_id("A").datasource(TEMPO).query_type("traceql").query(traceql).limit(20)
    panels = [
        panel(
            table.Panel,
            "Slowest recent chat traces (Tempo, TraceQL)",
            (10, 12),
            None,
            [],
            description="Chat requests of the dashboard range, slowest first; click a trace id to open it.",
            datasource=TEMPO,
        ).with_target(tempo_search),
        panel(table.Panel, "Recent chat traces (Jaeger)", (10, 12), None, [], datasource=JAEGER).with_target(
            JaegerSearchBuilder(SERVICE_NAME, CHAT_SERVER_SPAN, 20)
        ),
    ]
    by_duration = [common.TableSortByFieldState().display_name("Duration").desc(True)]
    return [table_panel.show_header(True).sort_by(by_duration) for table_panel in panels]


def chat_stages() -> dashboard.Dashboard:
    """The "chat stages" dashboard: stages, LLM tokens, rounds and cost, users' verdicts, recent traces."""
    board = (
        dashboard.Dashboard("HA AI agent — chat stages")
        .uid("ha-ai-agent-chat-stages")
        .description(
            f"Per-stage latency, calls and errors of {SERVICE_NAME} chat requests (span_metrics), LLM tokens by "
            "prompt part, rounds and cost, users' verdicts on answers, and the slowest recent traces."
        )
        .tags(["ha-ai-agent", "opentelemetry"])
        .timezone("browser")
        .readonly()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .time("now-1h", "now")
        .refresh("30s")
        .link(dashboard.DashboardLink("Jaeger").url(f"{JAEGER_UI}/search?service={SERVICE_NAME}").target_blank(True))
        .link(dashboard.DashboardLink("Jaeger Monitor").url(f"{JAEGER_UI}/monitor").target_blank(True))
    )
    for panel_id, panel in enumerate([*stage_panels(), *llm_panels(), *feedback_panels(), *trace_panels()], start=1):
        board = board.with_panel(panel.id(panel_id))
    return board


DASHBOARDS = {"ha-ai-agent-chat-stages.json": chat_stages}


def render(build: Any) -> str:
    """The dashboard as the checked-in JSON file holds it."""
    return json.dumps(build().build(), cls=JSONEncoder, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write every dashboard, or with ``--check`` report the ones whose file differs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a checked-in file is not what this generates")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path = DASHBOARD_DIR / name
        text = render(build)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if args.check:  # a dashboard file nobody generates would escape every check
        stale += sorted(path.name for path in DASHBOARD_DIR.glob("*.json") if path.name not in DASHBOARDS)
    for name in stale:
        print(f"{DASHBOARD_DIR / name} differs from scripts/grafana_dashboards.py: run it", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
