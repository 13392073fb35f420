"""Investigations run by hand, not by ``make bench``: CPU per chat by checkout, where a peer's CPU goes."""
