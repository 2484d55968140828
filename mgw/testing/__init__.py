"""Reusable test suites (contract tests other areas can run against their own implementations)."""
