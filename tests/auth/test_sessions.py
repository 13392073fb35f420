"""Signing in on the chat page, signing out for good, and what a refusal says."""

from __future__ import annotations

from fastapi.testclient import TestClient
from ha_ai_agent.auth.sessions import SESSION_COOKIE


def test_signing_in_sets_an_httponly_strict_expiring_cookie_that_lets_the_page_in(
    guarded: TestClient, own_token: tuple[str, str]
) -> None:
    signed_in = guarded.post("/api/v1/session", json={"token": own_token[0]})

    assert signed_in.status_code == 204
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and own_token[0] not in cookie
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "max-age", "path", "samesite"} <= attributes and "samesite=strict" in cookie.lower()
    page = guarded.get("/performance", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert guarded.post("/api/v1/chat", json={"message": "Is the garage door open?"}).status_code == 200


def test_signing_out_ends_the_session_on_the_server(guarded: TestClient, own_token: tuple[str, str]) -> None:
    guarded.post("/api/v1/session", json={"token": own_token[0]})
    cookie = guarded.cookies[SESSION_COOKIE]
    assert guarded.get("/api/v1/conversations").status_code == 200

    assert guarded.delete("/api/v1/session").status_code == 204
    assert SESSION_COOKIE not in guarded.cookies  # cleared in the browser too
    guarded.cookies.set(SESSION_COOKIE, cookie)  # the old cookie, replayed

    assert guarded.get("/api/v1/conversations").status_code == 401


def test_a_forged_cookie_is_refused(guarded: TestClient, own_token: tuple[str, str]) -> None:
    guarded.post("/api/v1/session", json={"token": own_token[0]})
    value = guarded.cookies[SESSION_COOKIE]
    guarded.cookies.clear()
    guarded.cookies.set(SESSION_COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert guarded.get("/api/v1/conversations").status_code == 401


def test_a_401_says_how_to_authenticate_and_nothing_else(guarded: TestClient) -> None:
    wrong = "canary-token-4f1c"
    refused = guarded.get("/api/v1/conversations", headers={"Authorization": f"Bearer {wrong}"})

    assert refused.status_code == 401
    body = refused.json()
    assert set(body) == {"detail", "trace_id"}
    assert "Authorization: Bearer" in body["detail"] and "ha-ai-agent token" in body["detail"]
    assert wrong not in refused.text
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="ha-ai-agent"'


def test_a_browser_opening_a_page_gets_the_sign_in_form_with_the_401(guarded: TestClient) -> None:
    page = guarded.get("/", headers={"Accept": "text/html,application/xhtml+xml"})

    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
    assert 'id="sign-in-form"' in page.text and "ha-ai-agent token" in page.text
    assert guarded.get("/static/sign-in.js").status_code == 200  # what the form needs is open


def test_wrong_tokens_are_rate_limited_per_client_but_a_signed_in_session_still_passes(
    guarded: TestClient, own_token: tuple[str, str]
) -> None:
    guarded.post("/api/v1/session", json={"token": own_token[0]})
    session = guarded.cookies[SESSION_COOKIE]
    guarded.cookies.clear()
    answers = [
        guarded.get("/api/v1/conversations", headers={"Authorization": f"Bearer wrong-{n}"}).status_code
        for n in range(8)
    ]

    assert answers == [401] * 5 + [429] * 3  # guarded_settings: 5 a minute
    limited = guarded.post("/api/v1/session", json={"token": "wrong-again"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    guarded.cookies.set(SESSION_COOKIE, session)
    assert guarded.get("/api/v1/conversations").status_code == 200
    own = {"Authorization": f"Bearer {own_token[0]}"}
    guarded.cookies.clear()
    assert guarded.get("/api/v1/conversations", headers=own).status_code == 200
