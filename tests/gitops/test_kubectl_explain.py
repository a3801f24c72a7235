"""`kubectl explain` against the Kubernetes API sandbox lists every ResourceRestart field with the CRD's text."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gitops.conftest import KubectlSandbox

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "charts" / "ece-restart-operator" / "files" / "crd.yaml"
pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is on every project machine")

FIELD_LINE = re.compile(r"^  (?P<name>\S+)\t<(?P<type>[^>]+)>(?P<required> -required-)?$")


@dataclass
class Explained:
    field_type: str
    description: str
    fields: dict[str, tuple[str, bool, str]]  # name -> (type, required, description)


def schema_at(path: str) -> dict[str, Any]:
    document = yaml.safe_load(CRD.read_text())
    node: dict[str, Any] = document["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for part in path.split("."):
        if node.get("type") == "array":
            node = node["items"]
        node = node["properties"][part]
    return node


def words(text: str) -> str:
    return " ".join(text.split())


def explain(kube: KubectlSandbox, path: str) -> Explained:
    result = kube.kubectl("explain", path)
    assert result.returncode == 0, f"kubectl explain {path} failed ({result.returncode}): {result.stderr}"
    lines = result.stdout.splitlines()
    header = next((line for line in lines if line.startswith("FIELD:")), None)  # absent for the kind itself
    field_type = header.split("<")[1].rstrip(">") if header is not None else "Object"
    description_start = lines.index("DESCRIPTION:") + 1
    fields_start = lines.index("FIELDS:") if "FIELDS:" in lines else len(lines)
    description = words("\n".join(lines[description_start:fields_start]))
    fields: dict[str, tuple[str, bool, str]] = {}
    current: str | None = None
    text: list[str] = []
    for line in [*lines[fields_start + 1:], "  end\t<end>"]:
        match = FIELD_LINE.match(line)
        if match:
            if current is not None:
                fields[current] = (fields[current][0], fields[current][1], words("\n".join(text)))
            current, text = match["name"], []
            fields[current] = (match["type"], bool(match["required"]), "")
        elif current is not None and line.startswith("    "):
            text.append(line)
    fields.pop("end")
    return Explained(field_type, description, fields)


def expected_type(schema: dict[str, Any]) -> str:
    kinds = {"object": "Object", "array": "[]Object", "string": "string", "integer": "integer", "boolean": "boolean"}
    if schema.get("type") == "array":
        item = schema["items"].get("type", "object")
        return "[]" + kinds[item] if item != "object" else "[]Object"
    return kinds[schema.get("type", "object")]


PATHS = ["spec", "spec.retry", "spec.elasticsearch", "spec.connection", "spec.connection.secretRef", "status",
         "status.plan", "status.conditions"]


@pytest.mark.parametrize("path", PATHS)
def test_explain_lists_every_field_with_its_description(kube_sandbox: KubectlSandbox, path: str) -> None:
    schema = schema_at(path)
    explained = explain(kube_sandbox, f"resourcerestart.{path}")
    assert explained.field_type == expected_type(schema)
    assert explained.description == words(schema.get("description", "<empty>"))
    fields_schema = schema["items"] if schema.get("type") == "array" else schema
    properties = fields_schema["properties"]
    required = set(fields_schema.get("required", []))
    assert set(explained.fields) == set(properties), f"{path}: fields differ"
    for name, field_schema in properties.items():
        shown_type, shown_required, shown_description = explained.fields[name]
        assert shown_type == expected_type(field_schema), f"{path}.{name}: type"
        assert shown_required == (name in required), f"{path}.{name}: -required-"
        assert shown_description == words(field_schema.get("description", "<no description>")), f"{path}.{name}"


@pytest.mark.parametrize("root", ["spec", "status"])
def test_every_field_has_a_description_in_the_crd(root: str) -> None:
    """`kubectl explain` can only show what the CRD says: every field, at every depth, must say something."""
    missing = []

    def walk(node: dict[str, Any], where: str) -> None:
        node = node.get("items", node) if node.get("type") == "array" else node
        for name, child in node.get("properties", {}).items():
            if not child.get("description", "").strip():
                missing.append(f"{where}.{name}")
            walk(child, f"{where}.{name}")

    walk(schema_at(root), root)
    assert not missing, f"fields without a description: {missing}"


def test_short_name_and_top_level(kube_sandbox: KubectlSandbox) -> None:
    top = explain(kube_sandbox, "rr")
    assert top.description == words(yaml.safe_load(CRD.read_text())["spec"]["versions"][0]["schema"]
                                     ["openAPIV3Schema"]["description"])
    assert {"spec", "status"} <= set(top.fields)
    assert explain(kube_sandbox, "rr.spec.retry").fields == explain(kube_sandbox, "resourcerestart.spec.retry").fields


def test_condition_fields_have_descriptions(kube_sandbox: KubectlSandbox) -> None:
    conditions = explain(kube_sandbox, "resourcerestart.status.conditions")
    assert all(description != "<no description>" for _, _, description in conditions.fields.values())
