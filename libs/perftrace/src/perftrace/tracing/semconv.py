"""The span attribute names the library itself sets; a service's own names belong in its own module."""

from __future__ import annotations

from typing import Final

#: On the span that stands for one tracked operation, e.g. ``chat_request_1765061925771``: what
#: ``get_tracker().get_reports()`` and ``/performance`` build their reports from.
OPERATION_ATTRIBUTE: Final = "performance.operation"
#: On the resource of browser spans that the browser endpoint forwarded: the ``service.name`` that forwarded them.
FORWARDED_BY_ATTRIBUTE: Final = "telemetry.forwarded_by"
#: On an operation's span: what its LLM calls cost in USD (from a price table and the usage the API reported).
#: Its token totals are the GenAI conventions' ``gen_ai.usage.*``; a span without a price has no cost at all.
COST_USD_ATTRIBUTE: Final = "chat.cost_usd"
#: Events on an operation's span (a server span, a browser ``send_message``): the moment the first, and the
#: last, words of the answer reached the reader (the first byte sent; the first words painted).
FIRST_TOKEN_EVENT: Final = "first_token"
LAST_TOKEN_EVENT: Final = "last_token"
#: A reader's verdict on an answer, as the ``gen_ai.evaluation.score.label`` of the event below:
#: ``/performance`` lists the answers whose latest verdict is a thumbs-down.
THUMBS_UP_LABEL: Final = "thumbs_up"
THUMBS_DOWN_LABEL: Final = "thumbs_down"
#: The GenAI conventions' event of a judgement on an answer (a user's thumbs up or down), and its attributes
#: (``gen_ai.evaluation.name``, ``.score.label``, ``.score.value``, ``.explanation``) from the semconv package.
EVALUATION_RESULT_EVENT: Final = "gen_ai.evaluation.result"
#: On a span that stands for an operation's effect outside the service, from the call that asked for it until
#: the effect was seen (a light on, a cover open): the group its time is reported under (e.g. ``light``). The
#: span ends when the effect is seen, or with status ERROR at the bound it was waited for (a timeout); an
#: effect whose time measures nothing else (never watched, cancelled) does not carry it.
EFFECT_ATTRIBUTE: Final = "performance.effect"
