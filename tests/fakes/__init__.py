"""Loopback fakes of upstream services, for tests that must not touch the internet."""
