from __future__ import annotations

import json
import subprocess
import sys


def test_the_example_loads_the_library_but_nothing_of_the_agent() -> None:
    # A fresh interpreter in isolated mode: only what `import ai_automation.app` pulls in is loaded.
    code = "import json, sys\nimport ai_automation.app\nprint(json.dumps(sorted(sys.modules)))"
    completed = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(completed.stdout)}
    assert {"perftrace", "fastapi", "httpx"} <= loaded
    assert not loaded & {"ha_ai_agent", "openai"}
