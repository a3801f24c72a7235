"""The ResourceRestart CustomResourceDefinition: where it lives and its fixed names."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Final

import yaml

GROUP: Final = "eceops.io"
VERSION: Final = "v1alpha1"
PLURAL: Final = "resourcerestarts"
KIND: Final = "ResourceRestart"
API_VERSION: Final = f"{GROUP}/{VERSION}"

_REPO_CRD = Path(__file__).resolve().parents[2] / "charts" / "ece-restart-operator" / "files" / "crd.yaml"


def crd_path() -> Path:
    """The CRD YAML: the chart's copy in a source checkout, the packaged copy in an installed wheel."""
    if _REPO_CRD.is_file():
        return _REPO_CRD
    packaged = resources.files("ece_restart").joinpath("data", "crd.yaml")
    return Path(str(packaged))


def load_crd() -> dict[str, Any]:
    """The CRD as a dict, exactly as users install it."""
    with crd_path().open(encoding="utf-8") as stream:
        document = yaml.safe_load(stream)
    if not isinstance(document, dict):
        raise ValueError(f"{crd_path()} does not hold a CustomResourceDefinition")
    return document
