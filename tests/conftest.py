"""Shared pytest wiring. Fixtures live in tests/support/ by area and are registered here."""

pytest_plugins: list[str] = ["tests.support.simulator_fixtures", "tests.support.sandbox_fixtures"]
