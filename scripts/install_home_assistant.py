#!/usr/bin/env python3
"""Install the real Home Assistant the tests run as a peer, into a cache outside the clone.

    ${HA_AGENT_HOME_ASSISTANT_DIR:-${XDG_CACHE_HOME:-~/.cache}/ha-ai-agent/home-assistant}/<version>/

holds a virtualenv with ``homeassistant==<version>`` (``bin/hass``) and a ``.installed`` stamp; a present
stamp means there is nothing to do. 2024.3.3 is the newest release that runs on Python 3.11. A plain
``pip install`` of it pulls ``josepy`` 2.x and gives a server that answers every request with 500, so the
install is constrained by the ``package_constraints.txt`` inside its own wheel plus ``josepy<2``.

After installing, Home Assistant is started once with the tests' configuration, so the packages its
integrations install on their first start land in the cache now, not in the first test run.

Usage: ``install_home_assistant.py [--print-dir]``. Exit status 0 when Home Assistant is installed, 1 when
the install failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from pathlib import Path

from testsupport.home_assistant import HOME_ASSISTANT_VERSION, STAMP, install_dir, running_home_assistant

#: Constraints added to the wheel's own: josepy 2.x breaks this release's acme import (every request 500).
EXTRA_CONSTRAINTS = ("josepy<2",)
PIP_TIMEOUT_SECONDS = 30 * 60


def _pip(env_dir: Path, *args: str) -> None:
    subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "--quiet", *args],
        check=True,
        timeout=PIP_TIMEOUT_SECONDS,
    )


def _constraints(env_dir: Path, version: str, work: Path) -> Path:
    """The wheel's package_constraints.txt plus ours, written to a file in ``work``."""
    _pip(env_dir, "download", "--no-deps", "--dest", str(work), f"homeassistant=={version}")
    (wheel,) = work.glob("homeassistant-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("homeassistant/package_constraints.txt").decode()
    path = work / "constraints.txt"
    path.write_text(shipped + "\n" + "\n".join(EXTRA_CONSTRAINTS) + "\n", encoding="utf-8")
    return path


def install(version: str = HOME_ASSISTANT_VERSION) -> Path:
    """Install ``version`` unless its stamp is there; returns the virtualenv's directory."""
    env_dir = install_dir(version)
    if (env_dir / STAMP).is_file():
        return env_dir
    started = time.monotonic()
    print(f"Installing Home Assistant {version} into {env_dir} (a few minutes, once)", file=sys.stderr)
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    with tempfile.TemporaryDirectory(prefix="ha-install-") as scratch:
        constraints = _constraints(env_dir, version, Path(scratch))
        _pip(env_dir, "install", "-c", str(constraints), f"homeassistant=={version}")
    print(f"Installed Home Assistant in {time.monotonic() - started:.0f}s", file=sys.stderr)
    _first_start(env_dir)
    (env_dir / STAMP).write_text(version + "\n", encoding="utf-8")
    return env_dir


def _first_start(env_dir: Path) -> None:
    """Start Home Assistant once, so the packages its integrations install at first start are cached."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ha-first-start-") as work, running_home_assistant(env_dir, Path(work)):
        pass
    print(f"First start of Home Assistant took {time.monotonic() - started:.0f}s", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Install, then print the directory when asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print-dir", action="store_true", help="print the virtualenv directory on stdout")
    args = parser.parse_args(argv)
    try:
        env_dir = install()
    # AssertionError/RuntimeError: the first start did not come up (its log is in the message).
    except (subprocess.SubprocessError, OSError, KeyError, ValueError, AssertionError, RuntimeError) as error:
        print(f"Home Assistant install failed: {error}", file=sys.stderr)
        return 1
    if args.print_dir:
        print(env_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
