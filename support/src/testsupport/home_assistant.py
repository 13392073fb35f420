"""The real Home Assistant as a test peer: started on loopback with the tests' config, provisioned without a browser.

``scripts/install_home_assistant.py`` installs it into a cache outside the clone. ``HomeAssistantPeer`` starts it
on a free port with ``tests/home/home_assistant_config/configuration.yaml`` (copied to a scratch folder, because
Home Assistant writes its registries there), waits for the demo integration's entities, and can stop and start
it again on the same port and state. ``provision`` creates the owner user and a long-lived token through the
onboarding API, the auth code grant and the websocket command ``auth/long_lived_access_token``;
``HomeAssistantAdmin`` sends websocket commands (areas, entity and device registry updates).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from testsupport.cache import cache_dir
from testsupport.paths import REPO_ROOT
from testsupport.processes import ManagedProcess, free_port, poll

HOME_ASSISTANT_VERSION = "2024.3.3"  # the newest release that runs on Python 3.11
HOME_ASSISTANT_DIR_ENV = "HA_AGENT_HOME_ASSISTANT_DIR"
STAMP = ".installed"
CONFIG_TEMPLATE = REPO_ROOT / "tests" / "home" / "home_assistant_config" / "configuration.yaml"
PORT_VARIABLE = "HA_AGENT_TEST_HA_PORT"
#: The first start installs the packages of the default integrations (minutes on a cold cache).
FIRST_START_TIMEOUT_SECONDS = 600.0
START_TIMEOUT_SECONDS = 120.0
#: Entities of the demo integration the tests rely on; the port answers before they exist.
READY_ENTITIES = ("light.kitchen_lights", "lock.front_door", "cover.living_room_window", "sensor.outside_temperature")
CLIENT_ID_PATH = "/"


def install_dir(version: str = HOME_ASSISTANT_VERSION) -> Path:
    """The virtualenv of one version: under ``$HA_AGENT_HOME_ASSISTANT_DIR``, else the XDG cache."""
    return cache_dir("home-assistant", HOME_ASSISTANT_DIR_ENV) / version


def installed_home_assistant() -> Path | None:
    """The virtualenv ``make home-assistant`` installed, or None when it is not (completely) there."""
    env_dir = install_dir()
    return env_dir if (env_dir / STAMP).is_file() and (env_dir / "bin" / "hass").is_file() else None


class HomeAssistantPeer:
    """One Home Assistant process over a config folder it keeps between restarts.

    Args:
        env_dir: the virtualenv holding ``bin/hass``.
        work_dir: a scratch folder for the config, registries and log.
    """

    def __init__(self, env_dir: Path, work_dir: Path) -> None:
        self.env_dir = env_dir
        self.config_dir = work_dir / "config"
        self.log_path = work_dir / "home-assistant.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = ""
        self._managed: ManagedProcess | None = None
        self.config_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(CONFIG_TEMPLATE, self.config_dir / "configuration.yaml")

    def start(self, timeout_s: float = START_TIMEOUT_SECONDS) -> None:
        """Start Home Assistant and wait until its API answers (and, once provisioned, its entities exist)."""
        env = {**os.environ, PORT_VARIABLE: str(self.port)}
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                [str(self.env_dir / "bin" / "hass"), "--config", str(self.config_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.config_dir,
            )
        self._managed = ManagedProcess("home-assistant", process, self.log_path)
        poll(self._answers, timeout_s, what=f"Home Assistant on {self.url}")
        if self.token:
            self.wait_for_entities(READY_ENTITIES, timeout_s)

    def _answers(self) -> bool:
        assert self._managed is not None
        assert self._managed.process.poll() is None, f"Home Assistant exited:\n{self._managed.log_tail()}"
        return httpx.get(f"{self.url}/api/onboarding", timeout=2.0).status_code in (200, 401)

    def stop(self) -> None:
        """Stop the process (the config folder stays for the next start)."""
        if self._managed is not None:
            self._managed.stop()
            self._managed = None

    def wait_for_entities(self, entity_ids: Sequence[str], timeout_s: float = START_TIMEOUT_SECONDS) -> None:
        """Until every entity in ``entity_ids`` has a state."""

        def present() -> bool:
            # RUNNING: every integration has set up (the entities can exist before the rest has).
            if self.rest("GET", "/api/config").json().get("state") != "RUNNING":
                return False
            states = self.rest("GET", "/api/states").json()
            return set(entity_ids) <= {s["entity_id"] for s in states}

        poll(present, timeout_s, what=f"entities {', '.join(entity_ids)}")

    def rest(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """One REST call with the token."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, f"{self.url}{path}", json=body, headers=headers, timeout=30.0)

    def log_tail(self) -> str:
        """The end of Home Assistant's output, for failure messages."""
        return self._managed.log_tail() if self._managed else "(not running)"


def provision(peer: HomeAssistantPeer) -> str:
    """Create the owner user and a long-lived access token; stores it on ``peer`` and returns it."""
    client_id = peer.url + CLIENT_ID_PATH
    created = httpx.post(
        f"{peer.url}/api/onboarding/users",
        json={"client_id": client_id, "name": "Test", "username": "test", "password": "test-pass", "language": "en"},
        timeout=30.0,
    )
    created.raise_for_status()
    grant = httpx.post(
        f"{peer.url}/auth/token",
        data={"grant_type": "authorization_code", "code": created.json()["auth_code"], "client_id": client_id},
        timeout=30.0,
    )
    grant.raise_for_status()
    with HomeAssistantAdmin(peer.url, grant.json()["access_token"]) as admin:
        token = admin.command("auth/long_lived_access_token", client_name="ha-ai-agent tests", lifespan=30)
    peer.token = str(token)
    return peer.token


class HomeAssistantAdmin:
    """A websocket session for registry commands (``config/area_registry/create``, …)."""

    def __init__(self, url: str, token: str) -> None:
        self._url = url.replace("http://", "ws://") + "/api/websocket"
        self._token = token
        self._ids = 0
        self._connection: ClientConnection | None = None
        self._stack = ExitStack()

    def __enter__(self) -> HomeAssistantAdmin:
        self._connection = self._stack.enter_context(connect(self._url, open_timeout=30))
        assert json.loads(self._connection.recv(timeout=30))["type"] == "auth_required"
        self._connection.send(json.dumps({"type": "auth", "access_token": self._token}))
        reply = json.loads(self._connection.recv(timeout=30))
        if reply["type"] != "auth_ok":
            raise RuntimeError(f"Home Assistant refused the websocket login: {reply}")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def command(self, kind: str, **fields: Any) -> Any:
        """Send one command and return its result (raises on an error reply)."""
        assert self._connection is not None, "use HomeAssistantAdmin as a context manager"
        self._ids += 1
        self._connection.send(json.dumps({"id": self._ids, "type": kind, **fields}))
        while True:
            reply = json.loads(self._connection.recv(timeout=30))
            if reply.get("id") == self._ids and reply.get("type") == "result":
                break
        if not reply.get("success"):
            raise RuntimeError(f"{kind} failed: {reply.get('error')}")
        return reply.get("result")

    def area_id(self, name: str) -> str:
        """The id of the area called ``name``, created if there is none."""
        for area in self.command("config/area_registry/list"):
            if area["name"].lower() == name.lower():
                return str(area["area_id"])
        return str(self.command("config/area_registry/create", name=name)["area_id"])

    def put_entity(self, entity_id: str, area_id: str | None) -> None:
        """Give the entity its own area (``None`` clears it, so its device's area counts)."""
        self.command("config/entity_registry/update", entity_id=entity_id, area_id=area_id)

    def create_token(self, name: str) -> str:
        """A new long-lived access token of the signed-in user, named ``name`` (as Profile → Security makes)."""
        return str(self.command("auth/long_lived_access_token", client_name=name, lifespan=30))

    def delete_token(self, name: str) -> None:
        """Delete the user's long-lived access token named ``name`` (the token stops working at once)."""
        tokens = self.command("auth/refresh_tokens")
        token_id = next(
            t["id"] for t in tokens if t.get("client_name") == name and t["type"] == "long_lived_access_token"
        )
        self.command("auth/delete_refresh_token", refresh_token_id=token_id)

    def put_device_of(self, entity_id: str, area_id: str | None) -> None:
        """Put the device of ``entity_id`` into an area."""
        device_id = self.command("config/entity_registry/get", entity_id=entity_id)["device_id"]
        self.command("config/device_registry/update", device_id=device_id, area_id=area_id)


@contextmanager
def running_home_assistant(
    env_dir: Path, work_dir: Path, timeout_s: float = FIRST_START_TIMEOUT_SECONDS
) -> Iterator[HomeAssistantPeer]:
    """A started and provisioned Home Assistant with the demo entities present; stopped at the end."""
    peer = HomeAssistantPeer(env_dir, work_dir)
    try:
        peer.start(timeout_s)
        provision(peer)
        peer.wait_for_entities(READY_ENTITIES, timeout_s)
        yield peer
    finally:
        peer.stop()
