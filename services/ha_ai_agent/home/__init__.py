"""Home Assistant: the REST client and the embedded demo home."""
