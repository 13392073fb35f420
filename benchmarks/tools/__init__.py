"""Investigations run by hand (not by ``make bench``): CPU by checkout, SDK parts, where a peer's CPU goes."""
