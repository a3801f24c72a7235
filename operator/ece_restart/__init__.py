"""ece-restart-operator: restart Elastic Cloud Enterprise deployment resources from Kubernetes, once and safely."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ece-restart-operator")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without installing
    __version__ = "0.0.0"

__all__ = ["__version__"]
