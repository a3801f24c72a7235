"""Shared pytest wiring. Fixtures live in tests/support/ by area and are registered here."""

pytest_plugins: list[str] = []
