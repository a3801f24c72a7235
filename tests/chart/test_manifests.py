"""manifests/ and docs/chart-values.md are generated from the chart and must not go stale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.chart.chartlib import CHART_DIR, CRD_FILE, ROOT, generator, render

NAMESPACE = "ece-restart-operator"


def test_generated_files_are_up_to_date() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, text in generator().expected_files().items()
        if not path.exists() or path.read_text() != text
    ]
    assert stale == [], "stale generated files; run `python scripts/generate-manifests.py` and commit the result"


def test_check_mode_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    module = generator()
    stale = tmp_path / "install.yaml"
    stale.write_text("# edited by hand\n")
    expected = module.expected_files()
    monkeypatch.setattr(module, "expected_files", lambda: {stale: expected[module.INSTALL]})
    monkeypatch.setattr(module, "ROOT", tmp_path)
    assert module.main(["--check"]) == 1
    assert "install.yaml" in capsys.readouterr().err
    assert stale.read_text() == "# edited by hand\n", "--check must not write"


def install_objects() -> list[dict]:
    return [doc for doc in yaml.safe_load_all((ROOT / "manifests" / "install.yaml").read_text()) if doc]


def test_install_yaml_is_the_default_rendering_plus_a_restricted_namespace() -> None:
    objects = install_objects()
    namespace = objects[0]
    assert namespace["kind"] == "Namespace" and namespace["metadata"]["name"] == NAMESPACE
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    key = lambda obj: (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])  # noqa: E731
    rendered = render(name=NAMESPACE, namespace=NAMESPACE)
    assert sorted(objects[1:], key=key) == sorted(rendered, key=key)


def test_install_yaml_creates_dependencies_first() -> None:
    kinds = [obj["kind"] for obj in install_objects()]
    assert kinds.index("CustomResourceDefinition") < kinds.index("Deployment")
    assert kinds.index("ServiceAccount") < kinds.index("Deployment")
    assert kinds.index("Role") < kinds.index("Deployment")


def test_crd_yaml_is_files_crd_yaml() -> None:
    assert yaml.safe_load((ROOT / "manifests" / "crd.yaml").read_text()) == yaml.safe_load(CRD_FILE.read_text())


def values_keys() -> set[str]:
    """Every key path of values.yaml (maps like podAnnotations are leaves: their defaults are empty)."""
    def walk(node: dict, prefix: str) -> set[str]:
        keys = set()
        for key, value in node.items():
            keys.add(prefix + key)
            if isinstance(value, dict) and value:
                keys |= walk(value, f"{prefix}{key}.")
        return keys

    return walk(yaml.safe_load((CHART_DIR / "values.yaml").read_text()), "")


def test_values_table_lists_every_key_of_values_yaml_with_a_description() -> None:
    table = (ROOT / "docs" / "chart-values.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+) \| ([^|]*) \| (.+) \|$", table, flags=re.MULTILINE)
    documented = {key for key, *_ in rows}
    assert documented == values_keys()
    for key, _, _, description in rows:
        last = key.rsplit(".", 1)[-1]
        assert description.startswith(f"{last} "), f"{key}: the description starts with the key name"


def test_comments_are_attached_to_the_key_below_them() -> None:
    comments = generator().values_comments("# a is a.\na:\n  # b is documented.\n  b: 1\n\n  c: 2\n")
    assert comments == {("a",): "a is a.", ("a", "b"): "b is documented.", ("a", "c"): ""}


def test_a_key_without_a_comment_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = generator()
    (tmp_path / "values.yaml").write_text((CHART_DIR / "values.yaml").read_text().replace(
        "# logFormat is the operator's log format (json or text).\n", ""))
    (tmp_path / "values.schema.json").write_text((CHART_DIR / "values.schema.json").read_text())
    monkeypatch.setattr(module, "CHART", tmp_path)
    with pytest.raises(SystemExit, match="without a comment above them: logFormat"):
        module.build_values_doc()
