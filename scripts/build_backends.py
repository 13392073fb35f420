#!/usr/bin/env python3
"""Build (or find in the cache) the backends the end-to-end tests run: ``make backends``.

The logic lives in ``testsupport.backends``; this command prints where each backend is (``--json``: as JSON).
Exit status 0 when every requested backend is there, 1 when a build failed, 2 when nothing can be built here.
"""

from __future__ import annotations

import argparse
import json
import sys

from testsupport.backends import BACKEND_NAMES, BuildError, SetupError, cache_root, ensure_backends


def main(argv: list[str] | None = None) -> int:
    """Build what is missing; report where every binary is."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", action="append", choices=BACKEND_NAMES, help="only this backend (repeatable)")
    parser.add_argument("--json", action="store_true", help="print {name: path} as JSON on stdout")
    arguments = parser.parse_args(argv)
    try:
        paths = ensure_backends(arguments.only or BACKEND_NAMES)
    except (OSError, SetupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BuildError as error:
        print(f"failed:\n{error}", file=sys.stderr)
        return 1
    if arguments.json:
        print(json.dumps({name: str(path) for name, path in paths.items()}, indent=2))
    else:
        print(f"backends in {cache_root()}:", *(f"  {name}: {path}" for name, path in paths.items()), sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
