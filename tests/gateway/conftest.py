"""Gateway test fixtures (the shared ones live in tests/conftest.py)."""
