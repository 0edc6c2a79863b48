"""Loopback fakes of outside services, for tests, benchmarks and offline demos."""
