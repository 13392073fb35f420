"""The LLM: the real OpenAI client and the embedded OpenAI-compatible responder."""
