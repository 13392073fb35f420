"""Actions that open the home (unlock, open a garage door or gate, disarm an alarm) wait for an explicit yes.

Home Assistant's own Assist does not expose locks, garage doors and alarm panels by default, for the same reason: a
prompt-injected instruction (in a device name, a pasted text) must not open the house. Such a call is not made;
it becomes a pending action of the conversation (the pending-preview mechanism), which only a "yes" as the next
message of that conversation, within ``HA_AGENT_CONFIRM_SECONDS``, carries out, without asking the model again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: ``pending_preview["kind"]`` of an action awaiting confirmation (an automation preview has none).
PENDING_ACTION_KIND = "confirm_action"
#: Covers whose opening opens the home (Home Assistant's ``device_class``).
OPENING_COVER_CLASSES = frozenset({"garage", "gate", "door"})
#: Services that leave a lock, an alarm panel or a cover closed.
CLOSING_SERVICES = {
    "lock": frozenset({"lock"}),
    "alarm_control_panel": frozenset(
        {"alarm_arm_home", "alarm_arm_away", "alarm_arm_night", "alarm_arm_vacation", "alarm_arm_custom_bypass"}
    ),
    "cover": frozenset({"close_cover", "stop_cover", "close_cover_tilt", "stop_cover_tilt"}),
}
#: What a service of each domain does, in the question the agent asks.
VERBS = {"lock": "unlock", "alarm_control_panel": "disarm", "cover": "open"}


class ConfirmationNeeded(Exception):
    """A call that opens the home was asked for; it is pending, not made."""

    def __init__(self, action: PendingAction) -> None:
        super().__init__(action.summary)
        self.action = action


@dataclass(frozen=True)
class PendingAction:
    """A held service call: what it does, to what, and until when a yes may carry it out (epoch seconds)."""

    domain: str
    service: str
    entity_id: Any
    data: dict[str, Any]
    summary: str
    expires_at: float = 0.0
    kind: str = field(default=PENDING_ACTION_KIND)

    def to_preview(self) -> dict[str, Any]:
        """The form kept in the conversation's ``pending_preview``."""
        return asdict(self)

    @classmethod
    def from_preview(cls, preview: dict[str, Any] | None) -> PendingAction | None:
        """The pending action a stored preview holds, or None for an automation preview (or nothing)."""
        if not preview or preview.get("kind") != PENDING_ACTION_KIND:
            return None
        return cls(
            domain=str(preview["domain"]),
            service=str(preview["service"]),
            entity_id=preview.get("entity_id"),
            data=dict(preview.get("data") or {}),
            summary=str(preview["summary"]),
            expires_at=float(preview["expires_at"]),
        )

    def question(self, seconds: float) -> str:
        """What the agent answers instead of acting."""
        return (
            f'To {self.summary}, I need your confirmation: this opens your home. Answer "yes" within '
            f"{seconds:g} seconds to do it; anything else cancels it."
        )


def opens_the_home(target_domain: str, service: str, device_class: str | None) -> bool:
    """Whether calling ``service`` on an entity of ``target_domain`` (with that device class) may open the home."""
    if target_domain not in CLOSING_SERVICES or service in CLOSING_SERVICES[target_domain]:
        return False
    return target_domain != "cover" or device_class in OPENING_COVER_CLASSES


#: What became of a pending action (the ``preview.action`` of the next request's ``pending_preview_check``).
CONFIRMED, EXPIRED, DECLINED, CANCELLED = "confirmed", "expired", "declined", "cancelled"
#: The explicit answers: only these carry an action out, or decline it.
YES_WORDS = frozenset({"yes", "y", "confirm", "confirmed", "do it"})
NO_WORDS = frozenset({"no", "n", "cancel", "don't", "do not"})


def resolve(action: PendingAction, message: str, now: float) -> str:
    """What the next message of the conversation does to the pending action: one of the four outcomes."""
    word = message.strip().lower().rstrip(".!")
    if word in YES_WORDS:
        return CONFIRMED if now < action.expires_at else EXPIRED
    return DECLINED if word in NO_WORDS else CANCELLED


def outcome_answer(action: PendingAction, outcome: str, result: dict[str, Any] | None = None) -> str:
    """The agent's answer to a yes or no about a pending action (the model is not asked)."""
    if outcome == EXPIRED:
        return f"That confirmation came too late, so I did not {action.summary}. Ask again if you still want it."
    if outcome == DECLINED:
        return f"All right, I did not {action.summary}."
    result = result or {}
    if "error" in result:
        return f"I could not {action.summary}: {result['error']}"
    if result.get("pending"):
        return f"As you confirmed: {result.get('message', action.summary)}."
    states = [f"{s['name']} is now {s['state']}" for s in result.get("changed", [])]
    states += [f"{s['name']} is already {s['state']}" for s in result.get("unchanged", [])]
    return f"Done: {'. '.join(states)}." if states else f"Done: {action.summary}."
