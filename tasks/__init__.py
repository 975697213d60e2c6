"""Prefect tasks: the units that retry and report. Each wraps a plain function testable alone."""
