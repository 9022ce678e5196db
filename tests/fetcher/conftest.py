"""Fixtures of the fetcher tests live in ``fetcher_testkit`` (a unique, importable name)."""

from tests.fetcher.fetcher_testkit import cin7, database_url, stack

__all__ = ["cin7", "database_url", "stack"]
