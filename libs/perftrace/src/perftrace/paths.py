"""The URL paths of what ``perftrace.fastapi`` mounts: each defined here once.

The routes are declared with these, the page and its script get them (behind the app's root path) from the
server, and the CLI reads a running service through them.
"""

from __future__ import annotations

from typing import Final

#: The prefix of the JSON routes.
API_PREFIX: Final = "/api/v1/performance"
REPORTS_PATH: Final = f"{API_PREFIX}/reports"
STAGES_PATH: Final = f"{API_PREFIX}/stages"
TRACES_PATH: Final = f"{API_PREFIX}/traces"
SNAPSHOT_PATH: Final = f"{API_PREFIX}/snapshot"
COMPARE_PATH: Final = f"{API_PREFIX}/compare"
#: Recent conversations, and one by its id (``{CONVERSATIONS_PATH}/{conversation_id}``).
CONVERSATIONS_PATH: Final = f"{API_PREFIX}/conversations"
#: The page, and its stylesheet and scripts.
PAGE_PATH: Final = "/performance"
STATIC_PATH: Final = f"{PAGE_PATH}/static"
#: The page of one conversation: ``{CONVERSATION_PAGE_PATH}/{conversation_id}``.
CONVERSATION_PAGE_PATH: Final = f"{PAGE_PATH}/conversations"


def page_urls(root_path: str) -> dict[str, str]:
    """What the page links to and its script calls, under the app's root path (``""`` when at the top)."""
    root = root_path.rstrip("/")
    paths = {"page": PAGE_PATH, "static": STATIC_PATH, "reports": REPORTS_PATH}
    paths |= {"snapshot": SNAPSHOT_PATH, "compare": COMPARE_PATH, "traces": TRACES_PATH}
    paths |= {"conversations": CONVERSATIONS_PATH, "conversation_page": CONVERSATION_PAGE_PATH}
    return {name: root + path for name, path in paths.items()}
