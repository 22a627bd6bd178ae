"""Helpers for tests and benchmarks of the twin and of projects built on it."""

from twin.testing.pg import PgCluster, find_pg_bindir

__all__ = ["PgCluster", "find_pg_bindir"]
