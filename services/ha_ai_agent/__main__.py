"""``python -m ha_ai_agent``."""

import sys

from ha_ai_agent.cli import main

sys.exit(main())
