"""The scale-out layer's trace store under faults (issue 23): a real three-node Cassandra cluster (replication 2,
LOCAL_ONE) behind two Jaegers, fed by agent -> Kafka -> two gateways keeping every trace.

- One Cassandra node SIGKILLed under load: no trace lost, queries keep answering, and the node, started again on
  its data, rejoins and is sent the writes it missed (hinted handoff, seen in the other nodes' logs).
- A Jaeger SIGKILLed under load (restarted 5 s later): what is lost is measured, and bounded by what that Jaeger
  had accepted and not yet written at the kill (its in-memory queue; the gateways retry everything else).
- The whole cluster stopped and started again: every trace written before is still there, through either Jaeger.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ha_ai_agent.semconv import CHAT_SERVER_SPAN, SERVICE_NAME
from testsupport.cassandra import CassandraCluster, running_cassandra
from testsupport.chat_load import ChatResult
from testsupport.collector_control import ProcessController
from testsupport.processes import poll
from testsupport.reliability_results import Outcome, record
from testsupport.sampled_chats import look_up, sampling_env
from testsupport.scaleout import ScaleOut, metric_sum, missing_traces, running_scaleout, under_load
from testsupport.stack import BackendUnavailable, built_backends

from tests.helpers import missing_dependency

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(1800)]

#: One chat worker: about 130 spans/s, within what Cassandra writes on this shared 2-core machine.
WORKERS = 1
#: A busy machine's Cassandra falls behind the load; it catches up from Kafka and the queues. Count a trace as lost
#: only when this long passed with no missing trace turning up.
PATIENCE_S = 45.0
DRAIN_LIMIT_S = 600.0
#: The most traces the service's JSON route returns at once; a run here stays below it.
BUFFER_LIMIT = 1000
PROBE_INTERVAL_S = 0.5
#: A search in flight when a node dies waits for the driver's timeout; later ones must answer.
DRIVER_NOTICE_S = 12.0
REJOIN_TIMEOUT_S = 120.0
HINTS_DELIVERED = re.compile(r"Finished hinted handoff of file \S+ to endpoint /?(\S+?)[:,\s]")
#: Every answered chat of this module, for the whole-cluster restart at the end.
WRITTEN: list[ChatResult] = []


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CassandraCluster]:
    """Three Cassandra nodes for the module."""
    try:
        jars = built_backends()["cassandra"]
    except BackendUnavailable as error:
        missing_dependency(str(error))
    with running_cassandra(jars, tmp_path_factory.mktemp("cassandra")) as started:
        yield started


@pytest.fixture(scope="module")
def layout(cluster: CassandraCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleOut]:
    """Two gateways keeping every trace, two Jaegers over the cluster."""
    env = sampling_env(100.0)
    with running_scaleout(tmp_path_factory.mktemp("scale-cassandra"), 2, env, cassandra=cluster, jaegers=2) as started:
        yield started


class QueryProbe:
    """Searches the traces of the service through one Jaeger every half second, in a thread; notes each outcome."""

    def __init__(self, jaeger_url: str) -> None:
        self._url = jaeger_url
        self._stop = threading.Event()
        self.outcomes: list[tuple[float, bool]] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        params = {"service": SERVICE_NAME, "operation": CHAT_SERVER_SPAN, "limit": "20", "lookback": "5m"}
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                response = httpx.get(f"{self._url}/api/traces", params=params, timeout=15.0)
                ok = response.is_success and bool(response.json()["data"])
            except httpx.HTTPError:
                ok = False
            self.outcomes.append((started, ok))
            self._stop.wait(PROBE_INTERVAL_S)

    def __enter__(self) -> QueryProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def missing_after_drain(jaeger_url: str, results: list[ChatResult]) -> list[ChatResult]:
    """The chats whose trace is not whole in Jaeger once the pipeline stopped catching up (see PATIENCE_S)."""
    missing = missing_traces(jaeger_url, results)
    deadline = time.monotonic() + DRAIN_LIMIT_S
    last_progress = time.monotonic()
    while missing and time.monotonic() - last_progress < PATIENCE_S and time.monotonic() < deadline:
        time.sleep(5)
        found = look_up(jaeger_url, [r.trace_id or "" for r in missing])
        still = [r for r, whole in zip(missing, found, strict=True) if not whole]
        if len(still) < len(missing):
            last_progress = time.monotonic()
        missing = still
    return missing


def test_cassandra_node_sigkill_loses_nothing_and_the_node_rejoins(
    layout: ScaleOut, cluster: CassandraCluster, tmp_path: Path
) -> None:
    victim = cluster.nodes[1]
    killed: list[float] = []

    def kill_node() -> None:
        killed.append(time.monotonic())
        cluster.kill(victim)

    with QueryProbe(layout.jaeger_queries[1]) as probe:
        results = under_load(layout, tmp_path, 30, kill_node, at_s=10, workers=WORKERS)
    WRITTEN.extend(results)
    restarted = time.monotonic()
    cluster.start_node(victim)
    rejoin_s = time.monotonic() - restarted
    others = [node for node in cluster.nodes if node is not victim]

    def hints_delivered() -> bool:
        logs = "".join(node.process.log_path.read_text(errors="replace") for node in others if node.process)
        return any(victim.address in endpoint for endpoint in HINTS_DELIVERED.findall(logs))

    try:
        poll(hints_delivered, REJOIN_TIMEOUT_S, interval_s=2.0, what="hints replayed to the restarted node")
        replayed = True
    except AssertionError:
        replayed = False
    missing = missing_after_drain(layout.jaeger_queries[0], results)
    noticed = killed[0] + DRIVER_NOTICE_S
    late = [ok for started, ok in probe.outcomes if started >= noticed]
    failed_near_kill = sum(not ok for started, ok in probe.outcomes if killed[0] <= started < noticed)
    passed = not missing and all(late) and bool(late) and replayed
    record(
        Outcome(
            "18 Cassandra node SIGKILL under load",
            f"{WORKERS} chat workers for 30 s ({len(results)} chats), everything kept, 3 nodes, replication 2, "
            f"LOCAL_ONE; node {victim.address} SIGKILLed at 10 s, started again after the load; a search through "
            f"the other Jaeger every {PROBE_INTERVAL_S} s",
            f"traces missing or incomplete (0); searches from {DRIVER_NOTICE_S:.0f} s after the kill answer (all); "
            "the node rejoins and is sent the writes it missed",
            f"{len(missing)} of {len(results)} missing; searches after {DRIVER_NOTICE_S:.0f} s: {sum(late)} of "
            f"{len(late)} answered ({failed_near_kill} failed in the first {DRIVER_NOTICE_S:.0f} s); node serving "
            f"CQL {rejoin_s:.0f} s after its start; missed writes replayed to it: {'yes' if replayed else 'no'}",
            passed,
        )
    )
    assert not missing and all(late) and late and replayed


def test_jaeger_sigkill_loses_at_most_what_it_held(layout: ScaleOut, tmp_path: Path) -> None:
    jaeger = ProcessController(layout.stack, "jaeger-2", layout.jaeger_health(2))
    metrics = f"http://127.0.0.1:{layout.jaegers[1]['jaeger_metrics']}/metrics"
    held: list[float] = []
    buffered: dict[str, int] = {}

    def kill_and_restart() -> None:
        accepted = metric_sum(metrics, "otelcol_receiver_accepted_spans", 'receiver="otlp"')
        written = metric_sum(metrics, "otelcol_exporter_sent_spans", 'exporter="jaeger_storage_exporter"')
        jaeger.kill()
        held.append(accepted - written)
        time.sleep(5)
        jaeger.restart()

    def read_buffer(url: str) -> None:
        traces = httpx.get(f"{url}/api/v1/performance/traces?limit={BUFFER_LIMIT}", timeout=30).json()
        buffered.update({t["trace_id"]: int(t["span_count"]) for t in traces if t["root_name"] == CHAT_SERVER_SPAN})

    results = under_load(layout, tmp_path, 30, kill_and_restart, at_s=10, workers=WORKERS, before_stop=read_buffer)
    WRITTEN.extend(results)
    missing = missing_after_drain(layout.jaeger_queries[0], results)
    lost_spans = 0
    for result in missing:
        found = httpx.get(f"{layout.jaeger_queries[0]}/api/traces/{result.trace_id}", timeout=10)
        spans = len(found.json()["data"][0]["spans"]) if found.is_success and found.json().get("data") else 0
        lost_spans += max(0, buffered.get(result.trace_id or "", 0) - spans)
    # What reached Jaeger between the metrics read and the kill: at most one scrape's worth at this load.
    bound = held[0] + 200
    passed = lost_spans <= bound
    record(
        Outcome(
            "18 Jaeger SIGKILL under load",
            f"{WORKERS} chat workers for 30 s ({len(results)} chats), everything kept, two Jaegers over Cassandra; "
            "the one gateway 2 sends to SIGKILLed at 10 s, started again 5 s later",
            "spans lost, measured; at most what that Jaeger had accepted and not yet written at the kill (its "
            "in-memory queue) + 200",
            f"{len(missing)} of {len(results)} traces incomplete or missing, {lost_spans} spans lost; the Jaeger "
            f"held {held[0]:.0f} spans unwritten at the kill",
            passed,
        )
    )
    assert passed, (lost_spans, held)


def test_whole_cluster_restarted_keeps_every_trace(layout: ScaleOut, cluster: CassandraCluster) -> None:
    assert WRITTEN, "the earlier rows of this module wrote the traces this one reads"
    ids = [r.trace_id or "" for r in WRITTEN if r.trace_id]
    # Whole before: the Jaeger row leaves some traces incomplete on purpose; those are not this row's to judge.
    before = [bool(whole) for whole in look_up(layout.jaeger_queries[0], ids)]
    cluster.stop()
    started = time.monotonic()
    cluster.start()
    up_s = time.monotonic() - started
    # The Jaegers kept running: their driver reconnects on its own (every node was gone for a while).
    first, second = layout.jaeger_queries
    poll(lambda: httpx.get(f"{first}/api/traces/{ids[0]}", timeout=10).is_success, 120, what="Jaeger 1 reads")
    answering_s = time.monotonic() - started
    after = zip(look_up(first, ids), look_up(second, ids), strict=True)
    lost = [was for was, (one, other) in zip(before, after, strict=True) if was and not (one and other)]
    record(
        Outcome(
            "18 whole Cassandra cluster restarted",
            f"the {len(ids)} traces of the two rows above; all 3 nodes stopped (SIGTERM) and started again one "
            "after another; the Jaegers keep running",
            "traces whole before and missing or incomplete after, through either Jaeger (0)",
            f"{len(lost)} of {sum(before)} lost; nodes up {up_s:.0f} s after the start, Jaeger reading again "
            f"{answering_s:.0f} s after it",
            not lost,
        )
    )
    assert not lost
