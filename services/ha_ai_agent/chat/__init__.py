"""The chat agent: stages, prompt, context, tools, rate limit."""
