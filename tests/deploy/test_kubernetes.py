"""The Kubernetes and KServe manifests: valid against their schemas, and consistent with
modelport's settings (drain and grace, the MODELPORT_ prefix, non-root, read-only root)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from modelport.settings import Settings, warn_unknown_variables

from .conftest import DEPLOY, SCHEMAS, documents, tool

KUBERNETES = DEPLOY / "kubernetes"
MANIFESTS = sorted(KUBERNETES.glob("*.yaml"))
KSERVE = KUBERNETES / "inferenceservice.yaml"
BUILT_IN = [path for path in MANIFESTS if path != KSERVE]


def _resources() -> dict[tuple[str, str], dict[str, Any]]:
    """Every resource by (kind, name)."""
    found = {}
    for path in MANIFESTS:
        for resource in documents(path):
            found[resource["kind"], resource["metadata"]["name"]] = resource
    return found


RESOURCES = _resources()


def _pod_specs() -> dict[str, dict[str, Any]]:
    """The pod spec of every workload, KServe's predictor included."""
    specs = {}
    for (kind, name), resource in RESOURCES.items():
        spec = resource.get("spec", {})
        if kind in ("Deployment", "Job"):
            specs[f"{kind}/{name}"] = spec["template"]["spec"]
        elif kind == "CronJob":
            specs[f"{kind}/{name}"] = spec["jobTemplate"]["spec"]["template"]["spec"]
        elif kind == "InferenceService":
            specs[f"{kind}/{name}"] = spec["predictor"]
    return specs


POD_SPECS = _pod_specs()
SETTINGS = RESOURCES["ConfigMap", "modelport-settings"]["data"]


def test_every_workload_is_here() -> None:
    assert set(POD_SPECS) == {
        "Deployment/modelport",
        "Job/modelport-score",
        "CronJob/modelport-score-nightly",
        "InferenceService/wind-turbine",
    }
    kinds = {kind for kind, _ in RESOURCES}
    assert {"Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Secret"} <= kinds


def test_built_in_kinds_pass_kubernetes_validate_strict() -> None:
    validate = tool("kubernetes-validate", "install")
    result = subprocess.run(
        [validate, "--strict", *map(str, BUILT_IN)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" passed for resource ") == sum(
        len(documents(path)) for path in BUILT_IN
    )


def _kserve_validator() -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / "kserve-inferenceservice.json").read_text())
    return jsonschema.Draft7Validator(schema)


def test_the_inference_service_matches_kserves_crd() -> None:
    [service] = documents(KSERVE)
    errors = [error.message for error in _kserve_validator().iter_errors(service)]
    assert errors == []


def test_the_kserve_schema_refuses_an_unknown_field() -> None:
    """The kept schema is strict, so the check above would catch a misspelt key."""
    [service] = documents(KSERVE)
    service["spec"]["predictor"]["containers"][0]["readinessprobe"] = {}
    errors = list(_kserve_validator().iter_errors(service))
    assert len(errors) == 1 and "readinessprobe" in errors[0].message


def test_the_kserve_container_speaks_v2() -> None:
    [container] = POD_SPECS["InferenceService/wind-turbine"]["containers"]
    assert container["name"] == "kserve-container"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert container["args"][-2:] == ["--port", "8080"]


def test_the_settings_are_all_known_to_modelport() -> None:
    assert warn_unknown_variables(SETTINGS) == []
    assert Settings(**{name.removeprefix("MODELPORT_").lower(): v for name, v in SETTINGS.items()})


@pytest.mark.parametrize("name", sorted(POD_SPECS))
def test_no_service_links_reach_modelports_settings(name: str) -> None:
    """A Service named modelport would inject MODELPORT_PORT=tcp://... otherwise."""
    assert POD_SPECS[name]["enableServiceLinks"] is False


@pytest.mark.parametrize("name", sorted(POD_SPECS))
def test_pods_run_as_non_root_on_a_read_only_root(name: str) -> None:
    spec = POD_SPECS[name]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    for container in spec["containers"]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        [tmp] = [mount for mount in container["volumeMounts"] if mount["mountPath"] == "/tmp"]
        assert "emptyDir" in volumes[tmp["name"]]
        assert container["envFrom"] == [{"configMapRef": {"name": "modelport-settings"}}]
        assert {"requests", "limits"} <= set(container["resources"])


def _seconds(name: str) -> float:
    """A drain setting as the pods get it: the ConfigMap's value, else modelport's default."""
    value = SETTINGS.get(f"MODELPORT_{name.upper()}")
    return float(value) if value is not None else float(getattr(Settings(), name))


@pytest.mark.parametrize("name", ["Deployment/modelport", "InferenceService/wind-turbine"])
def test_the_grace_period_covers_prestop_drain_and_grace(name: str) -> None:
    """The kubelet kills after terminationGracePeriodSeconds, counted from the preStop hook:
    it must not cut the drain or a request modelport agreed to finish, nor wait much more."""
    spec = POD_SPECS[name]
    [container] = spec["containers"]
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    needed = pre_stop + _seconds("drain_seconds") + _seconds("grace_seconds")
    assert needed <= spec["terminationGracePeriodSeconds"] <= needed + 10


def test_the_deployment_probes_and_serves_what_the_service_targets() -> None:
    deployment = RESOURCES["Deployment", "modelport"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["args"][:2] == ["serve", "/models"]
    service = RESOURCES["Service", "modelport"]
    [port] = service["spec"]["ports"]
    assert port["targetPort"] == container["ports"][0]["name"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        selector = RESOURCES[kind, "modelport"]["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        assert selector.items() <= pod_labels.items()
    target = RESOURCES["HorizontalPodAutoscaler", "modelport"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "modelport")


def test_the_api_keys_come_from_the_secret() -> None:
    spec = POD_SPECS["Deployment/modelport"]
    [container] = spec["containers"]
    [mount] = [m for m in container["volumeMounts"] if m["name"] == "api-keys"]
    [volume] = [v for v in spec["volumes"] if v["name"] == "api-keys"]
    secret = RESOURCES["Secret", volume["secret"]["secretName"]]
    [key] = secret["stringData"]
    assert SETTINGS["MODELPORT_API_KEYS_FILE"] == str(Path(mount["mountPath"]) / key)


def test_the_nightly_job_runs_the_same_pod_as_the_job() -> None:
    job = RESOURCES["Job", "modelport-score"]["spec"]
    nightly = RESOURCES["CronJob", "modelport-score-nightly"]["spec"]
    assert nightly["jobTemplate"]["spec"] == job
    assert nightly["concurrencyPolicy"] == "Forbid"
    [container] = job["template"]["spec"]["containers"]
    assert container["args"][0] == "score" and "--resume" in container["args"]
