"""Test data for the library's users and its own tests (not used at run time)."""
