from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from perftrace import FollowingTracer, traced


class Boom(Exception):
    pass


# Each kind of function, decorated bare and with a name + attributes; all return or yield 1, 2.
@traced
def plain_bare(fail: bool) -> int:
    if fail:
        raise Boom("plain")
    return 3


@traced("plain.named", attributes={"custom": "yes"})
def plain_named(fail: bool) -> int:
    if fail:
        raise Boom("plain")
    return 3


@traced
async def coro_bare(fail: bool) -> int:
    await asyncio.sleep(0)
    if fail:
        raise Boom("coro")
    return 3


@traced("coro.named", attributes={"custom": "yes"})
async def coro_named(fail: bool) -> int:
    await asyncio.sleep(0)
    if fail:
        raise Boom("coro")
    return 3


@traced
def gen_bare(fail: bool) -> Iterator[int]:
    yield 1
    yield 2
    if fail:
        raise Boom("gen")


@traced("gen.named", attributes={"custom": "yes"})
def gen_named(fail: bool) -> Iterator[int]:
    yield 1
    yield 2
    if fail:
        raise Boom("gen")


@traced
async def agen_bare(fail: bool) -> AsyncIterator[int]:
    yield 1
    await asyncio.sleep(0)
    yield 2
    if fail:
        raise Boom("agen")


@traced("agen.named", attributes={"custom": "yes"})
async def agen_named(fail: bool) -> AsyncIterator[int]:
    yield 1
    await asyncio.sleep(0)
    yield 2
    if fail:
        raise Boom("agen")


def run(func: Callable[[bool], Any], fail: bool) -> Any:
    """Call any of the kinds above to completion and return what it produced."""
    result = func(fail)
    if inspect.iscoroutine(result):
        return asyncio.run(result)
    if hasattr(result, "__anext__"):

        async def drain() -> list[int]:
            return [item async for item in result]

        return asyncio.run(drain())
    if hasattr(result, "__next__"):
        return list(result)
    return result


KINDS = {
    "function": (plain_bare, plain_named, 3),
    "coroutine": (coro_bare, coro_named, 3),
    "generator": (gen_bare, gen_named, [1, 2]),
    "async generator": (agen_bare, agen_named, [1, 2]),
}
CASES = [
    pytest.param(kind, style, fail, id=f"{kind}-{style}-{'raises' if fail else 'returns'}")
    for kind in KINDS
    for style in ("bare", "named")
    for fail in (False, True)
]


@pytest.mark.parametrize("kind,style,fail", CASES)
def test_traced_with_sdk_records_one_span(kind: str, style: str, fail: bool, exported: InMemorySpanExporter) -> None:
    bare, named, expected = KINDS[kind]
    func = bare if style == "bare" else named
    if fail:
        with pytest.raises(Boom):
            run(func, fail)
    else:
        assert run(func, fail) == expected

    spans = exported.get_finished_spans()
    assert len(spans) == 1
    span = spans[0]
    if style == "bare":
        assert span.name == func.__qualname__
        assert "custom" not in (span.attributes or {})
    else:
        assert span.name == func.__name__.replace("_", ".")
        assert (span.attributes or {})["custom"] == "yes"
    assert str((span.attributes or {})["code.function.name"]).endswith(func.__qualname__)
    if fail:
        assert span.status.status_code is StatusCode.ERROR
        assert "Boom" in (span.status.description or "")
        assert [e.name for e in span.events] == ["exception"]
    else:
        assert span.status.status_code is StatusCode.UNSET
        assert not span.events


@pytest.mark.parametrize("kind,style,fail", CASES)
@pytest.mark.parametrize("sdk", ["no provider", "OTEL_SDK_DISABLED"])
def test_traced_without_sdk_is_transparent(
    kind: str, style: str, fail: bool, sdk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if sdk == "OTEL_SDK_DISABLED":
        monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
        provider = TracerProvider()
        exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
    bare, named, expected = KINDS[kind]
    func = bare if style == "bare" else named
    if fail:
        with pytest.raises(Boom) as raised:
            run(func, fail)
        assert str(raised.value) == func.__name__.split("_")[0]
    else:
        assert run(func, fail) == expected
    if sdk == "OTEL_SDK_DISABLED":
        assert exporter.get_finished_spans() == ()


def test_exception_is_reraised_unchanged(exported: InMemorySpanExporter) -> None:
    error = Boom("the very same object")

    @traced
    def fails() -> None:
        raise error

    with pytest.raises(Boom) as raised:
        fails()
    assert raised.value is error


def test_generator_span_covers_whole_iteration_and_is_not_current_between_items(
    exported: InMemorySpanExporter,
) -> None:
    tracer = trace.get_tracer("test")

    @traced("producer")
    def producer() -> Iterator[int]:
        yield from range(3)

    with tracer.start_as_current_span("consumer"):
        for _ in producer():
            # The consumer's own work between items must not become a child of "producer".
            with tracer.start_as_current_span("consumer.step"):
                pass

    spans = {s.name: s for s in exported.get_finished_spans()}
    steps = [s for s in exported.get_finished_spans() if s.name == "consumer.step"]
    assert len(steps) == 3
    assert all(s.parent is not None and s.parent.span_id == spans["consumer"].context.span_id for s in steps)
    producer_span = spans["producer"]
    assert producer_span.start_time is not None and producer_span.end_time is not None
    assert producer_span.end_time >= max(s.end_time or 0 for s in steps[:2])


def test_spans_inside_generator_body_are_its_children(exported: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("test")

    @traced("outer")
    def outer() -> Iterator[int]:
        for i in range(2):
            with tracer.start_as_current_span("inner"):
                yield i

    assert list(outer()) == [0, 1]
    spans = exported.get_finished_spans()
    outer_span = next(s for s in spans if s.name == "outer")
    inners = [s for s in spans if s.name == "inner"]
    assert len(inners) == 2
    assert all(s.parent is not None and s.parent.span_id == outer_span.context.span_id for s in inners)


def test_generator_send_throw_and_close_pass_through(exported: InMemorySpanExporter) -> None:
    received: list[Any] = []

    @traced
    def echo() -> Generator[int, Any, None]:
        try:
            while True:
                try:
                    received.append((yield len(received)))
                except ValueError as error:
                    received.append(f"caught {error}")
        finally:
            received.append("closed")

    gen = echo()
    assert next(gen) == 0
    assert gen.send("a") == 1
    assert gen.throw(ValueError("x")) == 2
    gen.close()
    assert received == ["a", "caught x", "closed"]
    (span,) = exported.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET  # closing early is not an error


def test_async_generator_asend_and_athrow_pass_through(exported: InMemorySpanExporter) -> None:
    received: list[Any] = []

    @traced
    async def echo() -> AsyncGenerator[int, Any]:
        while True:
            try:
                received.append((yield len(received)))
            except ValueError as error:
                received.append(f"caught {error}")

    async def talk() -> list[int]:
        gen = echo()
        items = [await gen.asend(None), await gen.asend("a"), await gen.athrow(ValueError("x"))]
        await gen.aclose()
        return items

    assert asyncio.run(talk()) == [0, 1, 2]
    assert received == ["a", "caught x"]
    (span,) = exported.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET


def test_generator_return_value_is_kept(exported: InMemorySpanExporter) -> None:
    @traced
    def returns() -> Generator[int, None, int]:
        yield 1
        return 42  # noqa: B901

    def delegate() -> Generator[int, None, None]:
        result = yield from returns()
        assert result == 42
        yield result

    assert list(delegate()) == [1, 42]


def test_async_generator_aclose_ends_span(exported: InMemorySpanExporter) -> None:
    @traced
    async def counter() -> AsyncIterator[int]:
        i = 0
        while True:
            yield i
            i += 1

    async def take_two() -> list[int]:
        gen = counter()
        items = [await gen.__anext__(), await gen.__anext__()]
        await gen.aclose()  # type: ignore[attr-defined]
        return items

    assert asyncio.run(take_two()) == [0, 1]
    (span,) = exported.get_finished_spans()
    assert span.end_time is not None


class Thermostat:
    def __init__(self) -> None:
        self.target = 20

    @traced
    def read(self) -> int:
        return self.target

    @classmethod
    @traced("Thermostat.default")
    def default(cls) -> Thermostat:
        return cls()

    @traced
    @staticmethod
    def unit() -> str:
        return "°C"

    @traced
    async def aread(self) -> int:
        return self.target


def test_methods_classmethods_staticmethods(exported: InMemorySpanExporter) -> None:
    device = Thermostat.default()
    assert device.read() == 20
    assert Thermostat.unit() == "°C"
    assert device.unit() == "°C"
    assert asyncio.run(device.aread()) == 20
    names = [s.name for s in exported.get_finished_spans()]
    assert names == [
        "Thermostat.default",
        "Thermostat.read",
        "Thermostat.unit",
        "Thermostat.unit",
        "Thermostat.aread",
    ]


def test_decorated_function_keeps_its_metadata() -> None:
    assert plain_bare.__name__ == "plain_bare"
    assert plain_bare.__wrapped__ is not None  # type: ignore[attr-defined]


def test_follows_a_provider_installed_after_decoration(exported: InMemorySpanExporter) -> None:
    # plain_bare was decorated at import, before this test's provider existed.
    plain_bare(False)
    assert [s.name for s in exported.get_finished_spans()] == ["plain_bare"]


def test_nested_traced_calls_form_a_tree(exported: InMemorySpanExporter) -> None:
    @traced
    async def child() -> None:
        await asyncio.sleep(0)

    @traced
    async def parent() -> None:
        await asyncio.gather(child(), child())

    asyncio.run(parent())
    spans = exported.get_finished_spans()
    root = next(s for s in spans if s.name.endswith("parent"))
    children = [s for s in spans if s.name.endswith("child")]
    assert len(children) == 2
    assert all(c.parent is not None and c.parent.span_id == root.context.span_id for c in children)


def test_following_tracer_start_as_current_span_block(exported: InMemorySpanExporter) -> None:
    tracer = FollowingTracer("t")
    outside = trace.get_current_span()
    with tracer.start_as_current_span("ok", attributes={"a": 1}) as span:
        assert trace.get_current_span() is span
    assert trace.get_current_span() is outside
    with pytest.raises(Boom), tracer.start_as_current_span("fails"):
        raise Boom("inside")
    with pytest.raises(asyncio.CancelledError), tracer.start_as_current_span("cancelled"):
        raise asyncio.CancelledError
    assert trace.get_current_span() is outside
    ok, fails, cancelled = exported.get_finished_spans()
    assert ok.attributes == {"a": 1} and ok.status.status_code is StatusCode.UNSET
    assert fails.status.status_code is StatusCode.ERROR and fails.status.description == "Boom: inside"
    assert [event.name for event in fails.events] == ["exception"]
    # Cancellation is not an error (as in the SDK's own start_as_current_span).
    assert cancelled.status.status_code is StatusCode.UNSET and not cancelled.events
