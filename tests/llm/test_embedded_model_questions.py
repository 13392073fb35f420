"""The embedded model answers the usual questions about a home, asked in several ways, from the demo home."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

Call = tuple[str, str, str, dict[str, object]]

# question phrasings, the call_service calls (domain, service, entity_id, data) and what the answer must say
ACTIONS: list[tuple[list[str], list[Call], list[str]]] = [
    (
        ["Turn on the living room lights", "Switch on the lights in the living room", "living room lights on please"],
        [
            ("light", "turn_on", "light.living_room_lamp", {}),
            ("light", "turn_on", "light.living_room_ceiling", {}),
        ],
        ["Living Room Ceiling Light is now on", "Living Room Lamp is already on"],
    ),
    (
        ["Turn off the office monitor", "Can you turn the office monitor off?", "Please switch off the office monitor"],
        [("switch", "turn_off", "switch.office_monitor", {})],
        ["Office Monitor is now off"],
    ),
    (
        ["Dim the bedroom lights to 30%", "Set the bedroom lights to 30 percent"],
        [
            ("light", "turn_on", "light.bedroom_ceiling", {"brightness_pct": 30}),
            ("light", "turn_on", "light.bedside_lamp", {"brightness_pct": 30}),
        ],
        ["Bedroom Ceiling Light is now on at 30% brightness", "Bedside Lamp is now on at 30% brightness"],
    ),
    (
        ["Open the garage door", "Could you open the garage door?"],
        [("cover", "open_cover", "cover.garage_door", {})],
        ["Garage Door is now open"],
    ),
    (
        ["Close the living room blinds", "Shut the blinds in the lounge"],
        [("cover", "close_cover", "cover.living_room_blinds", {})],
        ["Living Room Blinds is now closed"],
    ),
    (
        ["Unlock the garage side door", "Please unlock the side door of the garage"],
        [("lock", "unlock", "lock.garage_side_door", {})],
        ["Garage Side Door is now unlocked"],
    ),
    (
        ["Lock the garage side door"],
        [("lock", "lock", "lock.garage_side_door", {})],
        ["Garage Side Door is already locked"],
    ),
    (
        ["Turn off everything in the kitchen", "Switch everything off in the kitchen"],
        [
            ("light", "turn_off", "light.kitchen_ceiling", {}),
            ("light", "turn_off", "light.kitchen_under_cabinet", {}),
            ("switch", "turn_off", "switch.coffee_maker", {}),
        ],
        ["Kitchen Ceiling Light is now off", "Coffee Maker is already off"],
    ),
    (
        ["Activate movie night", "Turn on the movie night scene", "Start the Movie Night scene"],
        [("scene", "turn_on", "scene.movie_night", {})],
        ["Activated the scene Movie Night"],
    ),
]

# question phrasings, the get_entities arguments expected, what the answer must and must not say
QUESTIONS: list[tuple[list[str], list[dict[str, str]], list[str], list[str]]] = [
    (
        ["What devices are in the kitchen?", "What's in the kitchen?", "Show me everything in the kitchen"],
        [{"area": "kitchen"}],
        ["In the Kitchen there are 6 devices", "Kitchen Ceiling Light (on)", "Kitchen Temperature (21.5 °C)"],
        ["Bedside Lamp"],
    ),
    (
        ["What lights are in the garage?", "Which lights are in the garage?"],
        [{"area": "garage", "domain": "light"}],
        ["In the Garage there is 1 light: Garage Light (off)."],
        ["Garage Door"],
    ),
    (
        ["Which lights are on?", "What lights are on right now?"],
        [{"domain": "light"}],
        ["In your home, 3 lights are on", "Kitchen Ceiling Light", "Living Room Lamp", "Office Desk Lamp"],
        ["Bedside Lamp", "In the your home"],
    ),
    (
        ["Is the garage door open?", "Is the door of the garage open?"],
        [],
        ["No, Garage Door is closed."],
        [],
    ),
    (["Is the garage side door locked?"], [], ["Yes, Garage Side Door is locked."], []),
    (["Is the bedroom window open?"], [], ["No, Bedroom Window is closed."], []),
    (["Is the coffee maker on?", "Is the coffee maker switched on?"], [], ["No, Coffee Maker is off."], []),
    (
        ["Are the kitchen lights on?"],
        [{"area": "kitchen", "domain": "light"}],
        ["Not all", "Kitchen Ceiling Light is on", "Kitchen Under-Cabinet Lights is off"],
        [],
    ),
    (
        ["What's the temperature in the kitchen?", "How warm is it in the kitchen?", "How cold is the kitchen?"],
        [{"area": "kitchen", "domain": "sensor"}],
        ["Kitchen Temperature is 21.5 °C"],
        ["Fridge Power"],
    ),
    (["What is the humidity in the living room?"], [], ["Living Room Humidity is 45 %"], []),
    (["How much power is the fridge using?"], [], ["Fridge Power is 85 W"], []),
    (["What's the CO2 level in the office?"], [], ["Office CO2 is 650 ppm"], ["Office Temperature"]),
    (
        ["Tell me a joke", "What's the weather tomorrow?"],
        [],
        ["I can tell you what is in a room", "Turn off the living room lights"],
        [],
    ),
]


def ask(client: TestClient, question: str) -> dict[str, object]:
    response = client.post("/api/v1/chat", json={"message": question})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def confirm(client: TestClient, asked: dict[str, object]) -> dict[str, object]:
    """Answer "yes" to the agent's question in the same conversation."""
    response = client.post("/api/v1/chat", json={"message": "yes", "conversation_id": asked["conversation_id"]})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def service_calls(body: dict[str, object]) -> list[Call]:
    calls = [c for c in body["tool_calls"] if c["name"] == "call_service"]  # type: ignore[attr-defined]
    arguments = [c["arguments"] for c in calls]
    return [(a["domain"], a["service"], a["entity_id"], a.get("data", {})) for a in arguments]


@pytest.mark.parametrize(
    ("question", "calls", "said"), [(q, calls, said) for phrasings, calls, said in ACTIONS for q in phrasings]
)
def test_actions_call_the_service_and_say_what_changed(
    client: TestClient, question: str, calls: list[Call], said: list[str]
) -> None:
    body = ask(client, question)
    names = [c["name"] for c in body["tool_calls"]]  # type: ignore[attr-defined]
    assert names[0] == "get_entities"
    assert sorted(service_calls(body)) == sorted(calls), body["tool_calls"]
    if "I need your confirmation" in str(body["message"]):  # it opens the home: carried out on a yes (issue 24)
        body = confirm(client, body)
    for words in said:
        assert words in str(body["message"]), body["message"]


@pytest.mark.parametrize(
    ("question", "lookups", "said", "unsaid"),
    [(q, lookups, said, unsaid) for phrasings, lookups, said, unsaid in QUESTIONS for q in phrasings],
)
def test_questions_are_answered_from_the_tool_results_without_acting(
    client: TestClient, question: str, lookups: list[dict[str, str]], said: list[str], unsaid: list[str]
) -> None:
    body = ask(client, question)
    calls = body["tool_calls"]
    assert all(c["name"] == "get_entities" for c in calls), calls  # type: ignore[attr-defined]
    if lookups:
        assert [c["arguments"] for c in calls] == lookups  # type: ignore[attr-defined]
    for words in said:
        assert words in str(body["message"]), body["message"]
    for words in unsaid:
        assert words not in str(body["message"]), body["message"]


def test_a_refused_action_is_explained_in_words(client: TestClient) -> None:
    body = ask(client, "Dim the kitchen lights to 150%")
    assert service_calls(body)[0] == ("light", "turn_on", "light.kitchen_ceiling", {"brightness_pct": 150})
    assert body["message"] == (
        "I could not do that: Home Assistant refused light.turn_on: it does not accept brightness_pct=150."
    )
