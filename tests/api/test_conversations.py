from __future__ import annotations

from fastapi.testclient import TestClient


def test_create_list_get_delete(client: TestClient) -> None:
    created = client.post("/api/v1/conversations", json={"title": "Kitchen"})
    assert created.status_code == 201
    conversation_id = created.json()["id"]
    for _ in range(2):
        client.post("/api/v1/chat", json={"message": "What devices are in the kitchen?"})

    page = client.get("/api/v1/conversations", params={"limit": 2, "offset": 0}).json()
    assert page["total"] == 3 and len(page["conversations"]) == 2
    assert page["conversations"][0]["message_count"] == 4  # user, tool call, tool result, answer
    rest = client.get("/api/v1/conversations", params={"limit": 2, "offset": 2}).json()
    assert [c["id"] for c in rest["conversations"]] == [conversation_id]

    one = client.get(f"/api/v1/conversations/{conversation_id}").json()
    assert one["title"] == "Kitchen" and one["messages"] == []
    assert client.delete(f"/api/v1/conversations/{conversation_id}").status_code == 204
    assert client.get(f"/api/v1/conversations/{conversation_id}").status_code == 404
    assert client.delete(f"/api/v1/conversations/{conversation_id}").status_code == 404


def test_paging_parameters_are_validated(client: TestClient) -> None:
    assert client.get("/api/v1/conversations", params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/conversations", params={"offset": -1}).status_code == 422
    assert client.get("/api/v1/conversations", params={"limit": 101}).status_code == 422
