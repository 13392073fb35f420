"""When Home Assistant cannot be asked, a token is neither accepted nor refused: a 503 that says so."""

from __future__ import annotations

from fastapi.testclient import TestClient
from ha_ai_agent.app import create_app
from ha_ai_agent.auth.credentials import token_digest
from ha_ai_agent.auth.policy import AuthMode
from ha_ai_agent.config import Settings
from ha_ai_agent.runtime import Runtime
from pydantic import SecretStr
from testsupport.servers import closed_port


def test_an_unreachable_home_assistant_answers_503_and_remembers_nothing(settings: Settings) -> None:
    unreachable = settings.model_copy(
        update={
            "ha_url": f"http://127.0.0.1:{closed_port()}",
            "ha_token": SecretStr("agent-token"),
            "auth": AuthMode.HOME_ASSISTANT,
            "ha_timeout_seconds": 1.0,
        }
    )
    with TestClient(create_app(unreachable)) as client:
        answer = client.get("/api/v1/conversations", headers={"Authorization": "Bearer a-users-token"})
        assert answer.status_code == 503 and "cannot check the token" in answer.json()["detail"]
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        assert runtime.access.home_tokens is not None
        assert runtime.access.home_tokens.cached(token_digest("a-users-token")) is None
