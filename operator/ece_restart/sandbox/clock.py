"""Timestamps as Kubernetes serialises them."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> str:
    """RFC 3339 UTC timestamp with second precision, as metav1.Time serialises."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
