"""Who may use the agent: credentials (Home Assistant tokens, the agent's own), sessions, and the route guard."""
