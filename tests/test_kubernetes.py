"""The Kubernetes manifests of each bake with a Dockerfile (deploy/k8s/): every overlay renders
with `kubectl kustomize` and validates against the Kubernetes schemas (kubernetes-validate,
which bundles them: offline), and the rules a rollout depends on hold in what is rendered:
probes, security context, resources, a disruption budget, no secret, and a grace period that
covers the preStop pause, uvicorn's graceful timeout and the task worker's grace."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import BakedProject

pytestmark = pytest.mark.slow

VALIDATE = str(Path(sys.executable).parent / "kubernetes-validate")
OVERLAYS = ["dev", "prod"]
SECRET_SETTINGS = {"SECRET_KEY", "REDIS_URL", "WEBHOOK_SECRET"}


def kustomize(project: BakedProject, overlay: str) -> str:
    result = subprocess.run(
        ["kubectl", "kustomize", str(project.path / "deploy" / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def rendered(project: BakedProject, overlay: str) -> dict[str, list[dict[str, Any]]]:
    """The rendered objects by kind."""
    objects: dict[str, list[dict[str, Any]]] = {}
    for document in yaml.safe_load_all(kustomize(project, overlay)):
        objects.setdefault(document["kind"], []).append(document)
    return objects


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VALIDATE, "--strict", "--quiet", str(path)], capture_output=True, text=True, check=False
    )


def test_every_overlay_renders_and_validates_or_is_absent(
    project: BakedProject, tmp_path: Path
) -> None:
    if project.context["use_docker"] != "yes":  # no image to run
        assert not (project.path / "deploy").exists()
        return
    for overlay in OVERLAYS:
        path = tmp_path / f"{overlay}.yaml"
        path.write_text(kustomize(project, overlay))
        result = validate(path)
        assert result.returncode == 0, f"{overlay}:\n{result.stdout}\n{result.stderr}"


def test_the_validator_refuses_what_the_schemas_do_not_allow(tmp_path: Path) -> None:
    """The check above can fail: a misspelt field is refused (strict mode)."""
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"
        "spec:\n  ports:\n    - port: 80\n      targetPorts: 8000\n"
    )
    assert validate(typo).returncode != 0


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def test_web_pods_roll_out_and_stop_safely(project: BakedProject) -> None:
    if project.context["use_docker"] != "yes":
        return
    serve = (project.path / "scripts" / "serve").read_text()
    assert '--timeout-graceful-shutdown "${GRACEFUL_TIMEOUT:-30}"' in serve
    for overlay in OVERLAYS:
        objects = rendered(project, overlay)
        [web] = objects["Deployment"]
        pod = web["spec"]["template"]["spec"]
        [server] = [c for c in pod["containers"] if c["name"] == "web"]

        # Probes: up, alive, ready (ready checks the dependencies).
        assert server["startupProbe"]["httpGet"]["path"] == "/api/health"
        assert server["livenessProbe"]["httpGet"]["path"] == "/api/health"
        assert server["readinessProbe"]["httpGet"]["path"] == "/api/ready"

        # The grace period covers the preStop pause, the graceful timeout and the tasks' grace.
        [config] = objects["ConfigMap"]
        graceful = int(config["data"]["GRACEFUL_TIMEOUT"])
        tasks_grace = int(config["data"]["TASKS_STOP_GRACE"])
        pause = int(server["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert pause >= 5  # endpoint removal reaches the proxies in a few seconds
        assert pod["terminationGracePeriodSeconds"] > pause + graceful + tasks_grace

        # Spread over nodes, and at most one pod taken by a drain.
        assert pod["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
        [budget] = objects["PodDisruptionBudget"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= (
            web["spec"]["template"]["metadata"]["labels"].items()
        )

        # Every pod: non-root, read-only root, no privilege escalation, no capability, and
        # resources requested (memory bounded).
        pods = [pod, *(job["spec"]["template"]["spec"] for job in objects.get("Job", []))]
        for spec in pods:
            assert spec["securityContext"]["runAsNonRoot"] is True
            for container in containers(spec):
                security = container["securityContext"]
                assert security["allowPrivilegeEscalation"] is False
                assert security["readOnlyRootFilesystem"] is True
                assert security["capabilities"]["drop"] == ["ALL"]
                assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
                assert "memory" in container["resources"]["limits"]

        # Nothing secret in the manifests: the settings that are come from a Secret made apart.
        assert "Secret" not in objects
        assert not SECRET_SETTINGS & config["data"].keys()
        assert {"secretRef": {"name": f"{project.slug.replace('_', '-')}-secrets"}} in (
            server["envFrom"]
        )

        # TLS at the Ingress, by a referenced Secret.
        [ingress] = objects["Ingress"]
        assert ingress["spec"]["tls"][0]["secretName"]

        if project.context["database"] == "sqlite":
            # One file on one volume: one pod, stopped before the next starts; no autoscaler.
            assert web["spec"]["replicas"] == 1
            assert web["spec"]["strategy"]["type"] == "Recreate"
            assert "PersistentVolumeClaim" in objects
            assert "HorizontalPodAutoscaler" not in objects
            assert [c["name"] for c in pod["initContainers"]] == ["migrate"]
        else:
            assert "DATABASE_URL" not in config["data"]  # it holds the password
            [migrate] = objects["Job"]
            assert migrate["spec"]["template"]["spec"]["containers"][0]["command"][-2:] == [
                "migrate",
                "--no-input",
            ]
            [waits] = pod["initContainers"]  # new code never serves the old schema
            assert "manage.py migrate --check" in waits["command"][-1]
            [scaler] = objects["HorizontalPodAutoscaler"]
            assert scaler["spec"]["scaleTargetRef"]["name"] == web["metadata"]["name"]
            assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
