"""The chart renders for every values matrix entry, every object is valid Kubernetes, the values do what they say."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml

from tests.chart.chartlib import (
    CRD_FILE,
    ECE_URL,
    MATRIX,
    MIN_KUBE_VERSION,
    RELEASE_NAMESPACE,
    Case,
    case_objects,
    of_kind,
    only,
    render,
    render_case,
    render_templates,
)

KUBE_VERSIONS = (MIN_KUBE_VERSION, kubernetes_validate.utils.latest_version())
# monitoring.coreos.com/v1 ServiceMonitor is a prometheus-operator custom resource: kubernetes-validate bundles only
# the built-in API schemas, so it has none. Its fields are asserted structurally in
# test_service_monitor_scrapes_the_metrics_service instead.
NO_BUNDLED_SCHEMA = {("monitoring.coreos.com/v1", "ServiceMonitor")}


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    pod = only(objects, "Deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["operator"]
    return pod["containers"][0]


def env(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container(objects)["env"]}


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("case", MATRIX, ids=lambda case: case.id)
def test_every_rendered_object_is_valid_kubernetes_in_strict_mode(case: Case, kube_version: str) -> None:
    objects = case_objects(case)
    assert objects
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in NO_BUNDLED_SCHEMA:
            continue
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:  # pragma: no cover - the message is the point
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']} is invalid for Kubernetes {kube_version}:\n{error}")


def test_the_strict_validator_rejects_a_misspelt_field() -> None:
    # Guards the test above: strict validation must catch an unknown field of a rendered object.
    deployment = only(render(), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError, match="imagePullPolice"):
        kubernetes_validate.validate(deployment, MIN_KUBE_VERSION, strict=True)


@pytest.mark.parametrize("case", MATRIX, ids=lambda case: case.id)
def test_namespaced_objects_name_their_namespace_and_carry_the_chart_labels(case: Case) -> None:
    cluster_scoped = {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
    watched = set(case.values.get("watchNamespaces", [])) | {case.namespace}
    for obj in case_objects(case):
        meta = obj["metadata"]
        if obj["kind"] in cluster_scoped:
            assert "namespace" not in meta
        else:
            assert meta.get("namespace") in watched, obj["kind"]
        if obj["kind"] != "CustomResourceDefinition":
            assert meta["labels"]["app.kubernetes.io/name"] == "ece-restart-operator"
            assert meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"


def test_default_rendering_has_exactly_the_expected_objects() -> None:
    kinds = sorted(obj["kind"] for obj in render(namespace=RELEASE_NAMESPACE))
    assert kinds == sorted(
        ["CustomResourceDefinition", "ServiceAccount", "Role", "RoleBinding", "Role", "RoleBinding", "Service",
         "Deployment"]
    )


def test_crd_is_rendered_verbatim_from_files_crd_yaml_and_kept_on_uninstall() -> None:
    rendered = render_templates()
    crd_text = rendered["ece-restart-operator/templates/crd.yaml"]
    assert crd_text.strip() == CRD_FILE.read_text().strip()
    crd = yaml.safe_load(crd_text)
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert crd["metadata"]["name"] == "resourcerestarts.eceops.io"


def test_crd_is_not_rendered_with_crds_install_false() -> None:
    assert not of_kind(render({"crds": {"install": False}}), "CustomResourceDefinition")


def test_deployment_runs_one_standalone_replica_with_recreate() -> None:
    deployment = only(render(), "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()


def test_default_command_watches_the_release_namespace() -> None:
    operator = container(render(namespace="ops"))
    assert operator["command"] == ["python", "-m", "ece_restart", "run"]
    assert operator["args"] == [
        "--namespace=ops", "--max-concurrent=4", "--health-port=8080", "--metrics-port=9090", "--log-format=json",
        "--log-level=info",
    ]


def test_watch_namespaces_and_cluster_wide_become_arguments() -> None:
    namespaced = container(render({"watchNamespaces": ["a", "b"]}))["args"]
    assert [arg for arg in namespaced if "namespace" in arg] == ["--namespace=a", "--namespace=b"]
    cluster = container(render({"clusterWide": True}))["args"]
    assert [arg for arg in cluster if "namespace" in arg] == ["--all-namespaces"]


def test_tunables_become_arguments() -> None:
    values = {"maxConcurrent": 8, "logLevel": "debug", "logFormat": "text", "healthPort": 8081,
              "metrics": {"port": 9191}}
    args = container(render(values))["args"]
    for expected in ("--max-concurrent=8", "--log-level=debug", "--log-format=text", "--health-port=8081",
                     "--metrics-port=9191"):
        assert expected in args


def test_probes_use_the_health_endpoints() -> None:
    operator = container(render({"healthPort": 8081}))
    assert {"name": "health", "containerPort": 8081, "protocol": "TCP"} in operator["ports"]
    assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert operator["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert operator["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_api_key_comes_from_the_existing_secret() -> None:
    variables = env(render({"ece": {"url": ECE_URL, "auth": {"existingSecret": "creds", "apiKeyKey": "key"}}}))
    assert variables["ECE_URL"] == ECE_URL
    assert variables["ECE_API_KEY"] == {"secretKeyRef": {"name": "creds", "key": "key"}}
    assert "ECE_USERNAME" not in variables and "ECE_PASSWORD" not in variables


def test_basic_auth_comes_from_the_existing_secret() -> None:
    variables = env(render({"ece": {"url": ECE_URL, "auth": {"type": "basic", "existingSecret": "creds"}}}))
    assert variables["ECE_USERNAME"] == {"secretKeyRef": {"name": "creds", "key": "username"}}
    assert variables["ECE_PASSWORD"] == {"secretKeyRef": {"name": "creds", "key": "password"}}
    assert "ECE_API_KEY" not in variables


def test_without_a_default_connection_no_ece_credentials_are_wired() -> None:
    variables = env(render())
    assert not {"ECE_URL", "ECE_API_KEY", "ECE_USERNAME", "ECE_PASSWORD", "ECE_CA_FILE"} & variables.keys()
    assert variables["ECE_INSECURE_SKIP_VERIFY"] == "false"
    assert variables["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}


def test_insecure_skip_verify_is_passed_as_a_string() -> None:
    assert env(render({"ece": {"insecureSkipVerify": True}}))["ECE_INSECURE_SKIP_VERIFY"] == "true"


@pytest.mark.parametrize(
    ("ca_bundle", "volume"),
    [
        ({"secret": {"name": "ece-ca", "key": "bundle.pem"}},
         {"secret": {"secretName": "ece-ca", "items": [{"key": "bundle.pem", "path": "ca.crt"}]}}),
        ({"configMap": {"name": "ece-ca"}},
         {"configMap": {"name": "ece-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}),
    ],
    ids=["secret", "configmap"],
)
def test_ca_bundle_is_mounted_read_only_and_named_by_ece_ca_file(ca_bundle: dict[str, Any], volume: dict[str, Any]
                                                                 ) -> None:
    objects = render({"ece": {"caBundle": ca_bundle}})
    pod = only(objects, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["ece-ca"] == {"name": "ece-ca", **volume}
    mounts = {m["name"]: m for m in container(objects)["volumeMounts"]}
    assert mounts["ece-ca"] == {"name": "ece-ca", "mountPath": "/etc/ece-restart-operator/ca", "readOnly": True}
    assert env(objects)["ECE_CA_FILE"] == "/etc/ece-restart-operator/ca/ca.crt"


def test_image_defaults_to_app_version_and_prefers_the_digest() -> None:
    assert container(render())["image"] == "ghcr.io/ece-restart-operator/ece-restart-operator:0.1.0"
    assert container(render({"image": {"tag": "0.2.0"}}))["image"].endswith(":0.2.0")
    digest = "sha256:" + "ab" * 32
    assert container(render({"image": {"tag": "0.2.0", "digest": digest}}))["image"] == (
        f"ghcr.io/ece-restart-operator/ece-restart-operator@{digest}"
    )


def test_metrics_service_and_port_follow_metrics_enabled() -> None:
    enabled = render({"metrics": {"port": 9191}})
    service = only(enabled, "Service")
    assert service["metadata"]["name"] == "rr-ece-restart-operator-metrics"
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9191, "targetPort": "metrics", "protocol": "TCP"}]
    assert service["spec"]["selector"] == only(enabled, "Deployment")["spec"]["selector"]["matchLabels"]
    assert {"name": "metrics", "containerPort": 9191, "protocol": "TCP"} in container(enabled)["ports"]
    disabled = render({"metrics": {"enabled": False}})
    assert not of_kind(disabled, "Service")
    assert not [arg for arg in container(disabled)["args"] if arg.startswith("--metrics-port")]


def test_service_monitor_scrapes_the_metrics_service() -> None:
    objects = render({"metrics": {"serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"a": "b"}}}})
    monitor = only(objects, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["a"] == "b"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= only(objects, "Service")["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [RELEASE_NAMESPACE]}
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "scheme": "http", "interval": "15s", "scrapeTimeout": "10s"}
    ]
    assert not of_kind(render(), "ServiceMonitor")


def test_network_policy_allows_only_dns_api_server_ece_and_metrics() -> None:
    values = {"networkPolicy": {"enabled": True, "apiServerCIDRs": ["10.0.0.10/32"], "eceCIDRs": ["192.0.2.10/32"],
                                "metricsPodSelector": {"app": "prometheus"}}}
    objects = render(values)
    policy = only(objects, "NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"] == only(objects, "Deployment")["spec"]["selector"]["matchLabels"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [
        {"ports": [{"port": "metrics", "protocol": "TCP"}],
         "from": [{"podSelector": {"matchLabels": {"app": "prometheus"}}}]}
    ]
    assert policy["egress"] == [
        {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
        {"to": [{"ipBlock": {"cidr": "10.0.0.10/32"}}],
         "ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]},
        {"to": [{"ipBlock": {"cidr": "192.0.2.10/32"}}],
         "ports": [{"port": 12443, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]},
    ]
    assert not of_kind(render(), "NetworkPolicy")


def test_network_policy_without_metrics_denies_all_ingress() -> None:
    values = {"metrics": {"enabled": False},
              "networkPolicy": {"enabled": True, "apiServerCIDRs": ["10.0.0.10/32"], "eceCIDRs": ["192.0.2.10/32"]}}
    assert only(render(values), "NetworkPolicy")["spec"]["ingress"] == []


def test_scheduling_and_pod_metadata_values_reach_the_pod() -> None:
    case = next(case for case in MATRIX if case.id == "everything-else")
    objects = case_objects(case)
    template = only(objects, "Deployment")["spec"]["template"]
    pod = template["spec"]
    for key in ("nodeSelector", "tolerations", "affinity", "priorityClassName", "imagePullSecrets"):
        assert pod[key] == case.values[key]
    assert template["metadata"]["annotations"] == case.values["podAnnotations"]
    assert template["metadata"]["labels"]["team"] == "ops"
    assert pod["serviceAccountName"] == "custom-sa"
    assert only(objects, "ServiceAccount")["metadata"]["annotations"] == {"example.com/role": "ece"}
    assert container(objects)["env"][-2:] == case.values["extraEnv"]


def test_resources_are_rendered_from_values() -> None:
    values = {"resources": {"requests": {"cpu": "100m", "memory": "200Mi"}, "limits": {"cpu": 1, "memory": "1Gi"}}}
    assert container(render(values))["resources"] == values["resources"]


def test_existing_service_account_is_used_without_creating_one() -> None:
    objects = render({"serviceAccount": {"create": False, "name": "mine"}})
    assert not of_kind(objects, "ServiceAccount")
    assert only(objects, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "mine"
    for binding in of_kind(objects, "RoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "mine", "namespace": RELEASE_NAMESPACE}]


@pytest.mark.parametrize("case", MATRIX, ids=lambda case: case.id)
def test_notes_explain_how_to_create_and_watch_a_first_resource_restart(case: Case) -> None:
    notes = render_case(case)["ece-restart-operator/templates/NOTES.txt"]
    example_namespace = "default" if case.values.get("clusterWide") else (
        case.values.get("watchNamespaces") or [case.namespace])[0]
    assert "kind: ResourceRestart" in notes
    assert f"kubectl get rr -n {example_namespace} -w" in notes
    assert f"kubectl wait rr/restart-kibana -n {example_namespace} --for=condition=Succeeded" in notes
    example = yaml.safe_load(notes.split("kubectl apply", 1)[1].split("\n", 1)[1].split("  YAML", 1)[0])
    assert example["spec"]["resourceKind"] == "kibana"


def test_network_policy_metrics_selectors_combine_into_one_peer() -> None:
    values = {"networkPolicy": {"enabled": True, "apiServerCIDRs": ["10.0.0.10/32"], "eceCIDRs": ["192.0.2.10/32"],
                                "metricsNamespaceSelector": {"name": "monitoring"}, "metricsPodSelector": {"app": "p"}}}
    ingress = only(render(values), "NetworkPolicy")["spec"]["ingress"]
    # One peer with both selectors: pods labelled app=p in namespaces labelled name=monitoring (AND, not OR).
    assert ingress[0]["from"] == [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}},
                                   "podSelector": {"matchLabels": {"app": "p"}}}]
    open_values = {"networkPolicy": {**values["networkPolicy"], "metricsNamespaceSelector": {},
                                     "metricsPodSelector": {}}}
    assert "from" not in only(render(open_values), "NetworkPolicy")["spec"]["ingress"][0]
