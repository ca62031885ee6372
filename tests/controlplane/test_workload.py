"""The stack's Kubernetes objects, as `npm run synth` renders them, on a real control plane with simulated
t3.medium nodes in two zones: admission, the migration Job, the HPA, a rollout, and the scheduling promises of
docs/operating.md (drains complete at every replica count, pods never packed onto one node).

The tests run in order and share the cluster: two nodes first (the default nodeDesiredSize), then a third."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from control_plane import REPO, T3_MEDIUM_ALLOCATABLE, ControlPlane, Json, is_ready, watching
from local_stack import wait_until
from stack_objects import (
    APP,
    DEPLOYMENT,
    FIELD_MANAGER,
    METRICS_SCRAPER,
    NAMESPACE,
    SCRAPER_TOKEN_SECRET,
    SYNTH_DIR,
    as_json,
    scraper_token,
    server_side_apply,
)

GO_MOD = REPO / "tests" / "controlplane" / "binaries" / "go.mod"
HPA = "fastapi-hpa"
ZONE_A, ZONE_B = "ap-southeast-1a", "ap-southeast-1b"
SETTLE_TIMEOUT = 90.0
DRAIN_TIMEOUT_SECONDS = 120


def rendered(pattern: str) -> Path:
    (path,) = SYNTH_DIR.glob(f"k8s/*-{pattern}.yaml")
    return path


def app_pods(control_plane: ControlPlane) -> list[Json]:
    pods: list[Json] = control_plane.get("pods", "-n", NAMESPACE, "-l", APP)["items"]
    return pods


def pods_per_node(pods: list[Json]) -> Counter[str]:
    return Counter(pod["spec"]["nodeName"] for pod in pods if is_ready(pod))


def zone_of(control_plane: ControlPlane, node: str) -> str:
    zone: str = control_plane.get("node", node)["metadata"]["labels"]["topology.kubernetes.io/zone"]
    return zone


def unschedulable(pod: Json) -> str | None:
    """The scheduler's reason when it found no node for the pod, else None."""
    for condition in pod.get("status", {}).get("conditions", []):
        if condition["type"] == "PodScheduled" and condition.get("reason") == "Unschedulable":
            message: str = condition.get("message", "")
            return message
    return None


def wait_for_ready_replicas(control_plane: ControlPlane, count: int) -> list[Json]:
    def settled() -> list[Json] | None:
        control_plane.assert_running()
        status = control_plane.get("deployment", "-n", NAMESPACE, DEPLOYMENT)["status"]
        pods = app_pods(control_plane)
        ready = [pod for pod in pods if is_ready(pod)]
        settled = (
            status.get("updatedReplicas") == status.get("readyReplicas") == len(ready) == len(pods) == count
        )
        return ready if settled else None

    return wait_until(settled, SETTLE_TIMEOUT, f"{count} ready, updated pods of {DEPLOYMENT}", interval=0.5)


def set_replicas(control_plane: ControlPlane, count: int) -> list[Json]:
    """What an operator's appMinReplicas (or the HPA under load) does: the Deployment runs `count` pods."""
    patch = json.dumps({"spec": {"minReplicas": count}})
    control_plane.kubectl("patch", "hpa", "-n", NAMESPACE, HPA, "--type=merge", "-p", patch)
    control_plane.kubectl("scale", "deployment", "-n", NAMESPACE, DEPLOYMENT, f"--replicas={count}")
    return wait_for_ready_replicas(control_plane, count)


def replicas_that_fit(control_plane: ControlPlane, nodes: int) -> int:
    """How many of the service's pods `nodes` t3.medium nodes hold, by their requests."""
    requests = control_plane.get("deployment", "-n", NAMESPACE, DEPLOYMENT)["spec"]["template"]["spec"][
        "containers"
    ][0]["resources"]["requests"]
    per_node = min(
        quantity(T3_MEDIUM_ALLOCATABLE["cpu"]) // quantity(requests["cpu"]),
        quantity(T3_MEDIUM_ALLOCATABLE["memory"]) // quantity(requests["memory"]),
        quantity(T3_MEDIUM_ALLOCATABLE["pods"]),
    )
    return int(per_node) * nodes


def quantity(value: str) -> float:
    """A Kubernetes quantity in base units (cores, bytes, count) for the suffixes the stack uses."""
    suffixes = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in suffixes.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


@pytest.fixture(scope="module")
def cluster(control_plane: ControlPlane) -> ControlPlane:
    """Two nodes in two zones, as the node group starts (nodeDesiredSize 2)."""
    control_plane.add_node("node-a", ZONE_A)
    control_plane.add_node("node-b", ZONE_B)
    return control_plane


@pytest.fixture(scope="module")
def applied(cluster: ControlPlane) -> subprocess.CompletedProcess[str]:
    """Every rendered object, applied server-side as the Pulumi provider applies them."""
    return cluster.kubectl(
        "apply",
        "--server-side",
        f"--field-manager={FIELD_MANAGER}",
        "-f",
        str(SYNTH_DIR / "k8s"),
        check=False,
    )


def test_pinned_kubernetes_is_the_stacks_version(control_plane: ControlPlane) -> None:
    pinned = next(
        line.split()[1]
        for line in GO_MOD.read_text().splitlines()
        if line.strip().startswith("k8s.io/kubernetes ")
    )
    inventory = json.loads((SYNTH_DIR / "aws-inventory.json").read_text())
    stack_version = next(r["inputs"]["version"] for r in inventory if r["type"] == "eks:index:Cluster")
    assert pinned.startswith(f"v{stack_version}."), (
        f"go.mod pins {pinned}, the stack runs Kubernetes {stack_version}"
    )
    staging = [line.split() for line in GO_MOD.read_text().splitlines() if "=> k8s.io/" in line]
    assert staging, "go.mod replaces no staging module"
    assert {replacement[-1] for replacement in staging} == {"v0" + pinned.removeprefix("v1")}
    served = json.loads(control_plane.kubectl("get", "--raw", "/version").stdout)["gitVersion"]
    assert served == pinned


def test_objects_apply_without_rejection_or_warning(applied: subprocess.CompletedProcess[str]) -> None:
    assert applied.returncode == 0, applied.stderr
    assert "Warning" not in applied.stderr, applied.stderr
    manifests = list(SYNTH_DIR.glob("k8s/*.yaml"))
    assert applied.stdout.count("serverside-applied") == len(manifests) > 0


def test_server_stores_the_containers_as_rendered(
    cluster: ControlPlane, applied: subprocess.CompletedProcess[str]
) -> None:
    # A field the server fills in (a default inside an atomic struct such as a fieldRef) shows as a difference
    # on every later apply of the same manifest.
    intended = as_json(cluster, rendered("deployment-fastapi-deployment"))["spec"]["template"]["spec"]
    live = cluster.get("deployment", "-n", NAMESPACE, DEPLOYMENT)["spec"]["template"]["spec"]
    assert live["containers"][0]["env"] == intended["containers"][0]["env"]


def test_migration_job_completes(cluster: ControlPlane, applied: subprocess.CompletedProcess[str]) -> None:
    job = as_json(cluster, next(SYNTH_DIR.glob("k8s/*-job-fastapi-migrate-*.yaml")))["metadata"]["name"]

    def complete() -> bool:
        conditions = cluster.get("job", "-n", NAMESPACE, job)["status"].get("conditions", [])
        return any(c["type"] == "Complete" and c["status"] == "True" for c in conditions)

    wait_until(complete, SETTLE_TIMEOUT, f"job {job} complete")


def test_hpa_raises_the_deployment_to_its_minimum(
    cluster: ControlPlane, applied: subprocess.CompletedProcess[str]
) -> None:
    minimum = cluster.get("hpa", "-n", NAMESPACE, HPA)["spec"]["minReplicas"]
    assert minimum >= 2
    wait_for_ready_replicas(cluster, minimum)


def test_pods_spread_over_nodes_and_zones(
    cluster: ControlPlane, applied: subprocess.CompletedProcess[str]
) -> None:
    per_node = pods_per_node(app_pods(cluster))
    assert sorted(per_node.values()) == [1, 1], per_node
    assert {zone_of(cluster, node) for node in per_node} == {ZONE_A, ZONE_B}


def kubeconfig_with_token(control_plane: ControlPlane, token: str, name: str) -> Path:
    """A kubeconfig holding nothing but the API server, its CA and a token, as Prometheus has."""
    admin = json.loads(control_plane.admin_kubeconfig.read_text())
    path = control_plane.work_dir / f"{name}.kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": "controlplane", "user": name}}],
        "current-context": name,
    }
    path.write_text(json.dumps(config))
    return path


def can_i(control_plane: ControlPlane, kubeconfig: Path, verb: str, resource: str, namespace: str) -> str:
    """The API server's authorizer's answer, "yes" or "no"; "unauthorized" when the token is refused."""
    # `kubectl auth can-i get pods/proxy` would ask about a pod named "proxy": a subresource has its own flag.
    resource, _, subresource = resource.partition("/")
    answer = subprocess.run(
        control_plane.kubectl_command(
            "auth", "can-i", verb, resource, f"--subresource={subresource}", "-n", namespace,
            kubeconfig=kubeconfig,
        ),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if "Unauthorized" in answer.stderr:
        return "unauthorized"
    return answer.stdout.strip()


@pytest.fixture(scope="module")
def scraper_kubeconfig(cluster: ControlPlane, applied: subprocess.CompletedProcess[str]) -> Path:
    return kubeconfig_with_token(cluster, scraper_token(cluster, SETTLE_TIMEOUT), METRICS_SCRAPER)


@pytest.mark.parametrize(
    ("question", "allowed"),
    [
        (("list", "pods", NAMESPACE), True),
        (("watch", "pods", NAMESPACE), True),
        (("get", "pods", NAMESPACE), True),
        (("get", "pods/proxy", NAMESPACE), True),
        (("create", "pods/proxy", NAMESPACE), False),
        (("get", "pods/exec", NAMESPACE), False),
        (("get", "pods/log", NAMESPACE), False),
        (("delete", "pods", NAMESPACE), False),
        (("get", "secrets", NAMESPACE), False),
        (("get", "services/proxy", NAMESPACE), False),
        (("list", "pods", "default"), False),
        (("get", "pods/proxy", "kube-system"), False),
    ],
)
def test_the_metrics_scraper_may_read_the_pods_and_proxy_to_them_and_nothing_else(
    cluster: ControlPlane, scraper_kubeconfig: Path, question: tuple[str, str, str], allowed: bool
) -> None:
    assert can_i(cluster, scraper_kubeconfig, *question) == ("yes" if allowed else "no")


def test_a_root_copy_of_the_deployment_is_refused(
    cluster: ControlPlane, applied: subprocess.CompletedProcess[str]
) -> None:
    """The negative control: Pod Security `restricted` warns on the Deployment and refuses its pods."""
    root = as_json(cluster, rendered("deployment-fastapi-deployment"))
    labels = {"app": "fastapi-root"}
    root["metadata"].update(name="fastapi-root", labels=labels)
    root["spec"]["selector"] = {"matchLabels": labels}
    template = root["spec"]["template"]
    template["metadata"]["labels"] = labels
    template["spec"].pop("topologySpreadConstraints")
    template["spec"]["securityContext"].update(runAsNonRoot=False, runAsUser=0)
    template["spec"]["containers"][0]["securityContext"].update(runAsNonRoot=False, runAsUser=0)
    try:
        result = server_side_apply(cluster, root)
        assert "would violate PodSecurity" in result.stderr, result.stderr

        def refused() -> str | None:
            for replica_set in cluster.get("replicasets", "-n", NAMESPACE, "-l", "app=fastapi-root")["items"]:
                for condition in replica_set.get("status", {}).get("conditions", []):
                    if condition["type"] == "ReplicaFailure":
                        message: str = condition["message"]
                        return message
            return None

        assert "violates PodSecurity" in wait_until(refused, SETTLE_TIMEOUT, "the root pods refused")
        assert cluster.get("pods", "-n", NAMESPACE, "-l", "app=fastapi-root")["items"] == []
    finally:
        cluster.kubectl("delete", "deployment", "-n", NAMESPACE, "fastapi-root", "--ignore-not-found")


def test_a_rollout_keeps_the_desired_count_ready_and_the_pods_spread(
    cluster: ControlPlane, applied: subprocess.CompletedProcess[str]
) -> None:
    desired = len(
        wait_for_ready_replicas(cluster, cluster.get("hpa", "-n", NAMESPACE, HPA)["spec"]["minReplicas"])
    )
    deployment = as_json(cluster, rendered("deployment-fastapi-deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    new_image = container["image"].split("@")[0] + "@sha256:" + "cd" * 32
    container["image"] = new_image
    with watching(cluster, NAMESPACE, APP) as watch:
        wait_until(lambda: len(watch.pods) == desired, SETTLE_TIMEOUT, "the watch listing the pods")
        watch.reset()
        server_side_apply(cluster, deployment)
        cluster.kubectl("rollout", "status", "-n", NAMESPACE, f"deployment/{DEPLOYMENT}", "--timeout=120s")
        pods = wait_for_ready_replicas(cluster, desired)
    assert {pod["spec"]["containers"][0]["image"] for pod in pods} == {new_image}
    assert watch.min_ready >= desired
    per_node = pods_per_node(pods)
    assert max(per_node.values()) - min(per_node.values()) <= 1, f"spread after the rollout: {per_node}"
    assert len(per_node) == 2, f"spread after the rollout: {per_node}"


def test_a_lost_node_leaves_pods_pending_rather_than_all_on_one_node(
    cluster: ControlPlane, applied: subprocess.CompletedProcess[str]
) -> None:
    """With one node left the scheduler keeps the replacement Pending (the autoscaler's cue to add a node)
    instead of putting every pod on the survivor."""
    minimum = cluster.get("hpa", "-n", NAMESPACE, HPA)["spec"]["minReplicas"]
    wait_for_ready_replicas(cluster, minimum)
    # A node lost as on EKS: marked unschedulable (the node lifecycle controller taints an unreachable node),
    # its pods evicted, then its Node object deleted once the instance is gone.
    cluster.kubectl("cordon", "node-b")
    cluster.kubectl(
        "delete", "pods", "-n", NAMESPACE, "-l", APP, "--field-selector=spec.nodeName=node-b",
        "--force", "--grace-period=0",
    )  # fmt: skip
    wait_until(
        lambda: any(unschedulable(pod) for pod in app_pods(cluster)),
        SETTLE_TIMEOUT,
        "the replacement pending",
    )
    cluster.kubectl("delete", "node", "node-b")

    def replacement_reconsidered() -> list[Json] | None:
        """The pods once the scheduler has tried the replacement with node-b gone. It retries an unschedulable
        pod on some cluster events or within five minutes; a new pod in its place is tried at once."""
        pods = app_pods(cluster)
        if len(pods) != minimum:
            return None
        tried_before = [pod for pod in pods if (unschedulable(pod) or "").startswith("0/2 nodes")]
        for pod in tried_before:
            cluster.kubectl("delete", "pod", "-n", NAMESPACE, pod["metadata"]["name"], "--wait=false")
        decided = not tried_before and all(
            pod["spec"].get("nodeName") or (unschedulable(pod) or "").startswith("0/1 nodes") for pod in pods
        )
        return pods if decided else None

    pods = wait_until(
        replacement_reconsidered, SETTLE_TIMEOUT, "the scheduler trying the replacement again", interval=2.0
    )
    pending = [message for pod in pods if (message := unschedulable(pod)) is not None]
    assert pods_per_node(pods) == Counter({"node-a": 1}), pods_per_node(pods)
    assert len(pending) == minimum - 1
    assert all("topology spread" in message for message in pending), pending

    # The node group replaces the lost instance; the pending pod runs on it.
    cluster.add_node("node-b", ZONE_B)
    pods = wait_for_ready_replicas(cluster, minimum)
    assert sorted(pods_per_node(pods).values()) == [1] * minimum


def test_a_drain_of_one_of_two_nodes_completes_once_a_node_is_added(
    cluster: ControlPlane, applied: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    """Two nodes (nodeMinSize), at every replica count the HPA allows that they hold: the drain's first
    replacement waits for a third node (as it waits for the cluster autoscaler), then the drain completes,
    one pod away at a time, never with every ready pod on one node. The drained node then goes, as the
    autoscaler removes an empty node, so each count starts again from two nodes."""
    hpa = as_json(cluster, rendered("horizontalpodautoscaler-fastapi-hpa"))["spec"]
    counts = range(hpa["minReplicas"], min(hpa["maxReplicas"], replicas_that_fit(cluster, 2)) + 1)
    assert len(counts) > 1
    drain_log = tmp_path / "drain.log"
    for count in counts:
        per_node = pods_per_node(set_replicas(cluster, count))
        assert len(per_node) == 2, f"{count} pods: {per_node}"
        busiest = max(sorted(per_node), key=per_node.__getitem__)
        with watching(cluster, NAMESPACE, APP) as watch:
            wait_until(lambda: len(watch.pods) == count, SETTLE_TIMEOUT, "the watch listing the pods")  # noqa: B023
            watch.reset()
            with drain_log.open("w") as log:
                drain = subprocess.Popen(
                    cluster.kubectl_command(
                        "drain", busiest, "--ignore-daemonsets", "--delete-emptydir-data",
                        f"--timeout={DRAIN_TIMEOUT_SECONDS}s",
                    ),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
                try:
                    pending = wait_until(
                        lambda: [m for pod in app_pods(cluster) if (m := unschedulable(pod)) is not None],
                        SETTLE_TIMEOUT,
                        f"{count} pods: the first replacement pending",
                    )
                    assert all("topology spread" in message for message in pending), pending
                    cluster.add_node(f"node-{count}", zone_of(cluster, busiest))
                    assert drain.wait(DRAIN_TIMEOUT_SECONDS) == 0, drain_log.read_text()
                finally:
                    if drain.poll() is None:
                        drain.kill()
                        drain.wait()
            pods = wait_for_ready_replicas(cluster, count)
        cluster.kubectl("delete", "node", busiest)
        after = pods_per_node(pods)
        assert busiest not in after
        assert len(after) == 2, f"{count} pods: not on two nodes after the drain: {after}"
        assert watch.min_ready == count - 1, f"{count} pods: not one pod away at a time"
        assert watch.min_ready_nodes >= min(2, count - 1), f"{count} pods: every ready pod on one node"


def test_a_drain_completes_at_every_replica_count(
    cluster: ControlPlane, applied: subprocess.CompletedProcess[str]
) -> None:
    """Three nodes (nodeMaxSize): from the HPA's minimum to what the two nodes left after a drain hold,
    draining the busiest node completes, one pod away at a time, with pods on two nodes throughout."""
    if len(cluster.get("nodes")["items"]) < 3:
        cluster.add_node("node-c", ZONE_A)
    hpa = as_json(cluster, rendered("horizontalpodautoscaler-fastapi-hpa"))["spec"]
    counts = range(hpa["minReplicas"], min(hpa["maxReplicas"], replicas_that_fit(cluster, 2)) + 1)
    assert len(counts) > 1
    timings = {}
    for count in counts:
        per_node = pods_per_node(set_replicas(cluster, count))
        busiest = max(sorted(per_node), key=per_node.__getitem__)
        with watching(cluster, NAMESPACE, APP) as watch:
            wait_until(lambda: len(watch.pods) == count, SETTLE_TIMEOUT, "the watch listing the pods")  # noqa: B023
            watch.reset()
            started = time.monotonic()
            drain = cluster.kubectl(
                "drain", busiest, "--ignore-daemonsets", "--delete-emptydir-data",
                f"--timeout={DRAIN_TIMEOUT_SECONDS}s",
                check=False, timeout=DRAIN_TIMEOUT_SECONDS + 30,
            )  # fmt: skip
            assert drain.returncode == 0, f"{count} pods: drain of {busiest} failed:\n{drain.stderr}"
            pods = wait_for_ready_replicas(cluster, count)
            timings[count] = round(time.monotonic() - started, 1)
        cluster.kubectl("uncordon", busiest)
        after = pods_per_node(pods)
        assert busiest not in after
        assert len(after) >= 2, f"{count} pods: all on one node after the drain: {after}"
        assert watch.min_ready >= count - 1, f"{count} pods: the PodDisruptionBudget was not respected"
        # At two pods, one is all that is ready while the other's replacement starts.
        assert watch.min_ready_nodes >= min(2, count - 1), f"{count} pods: every ready pod on one node"
    print(f"drain seconds by replica count: {timings}")


def test_the_scraper_token_is_revoked_with_its_secret_and_rotated_with_its_service_account(
    cluster: ControlPlane,
) -> None:
    """What docs/security.md tells an operator: deleting the Secret revokes the token; the same Secret
    re-created for the same account carries the same token; replacing the account and the Secret gives a new
    one."""
    secret, account = (
        rendered("secret-fastapi-metrics-scraper-token"),
        rendered("serviceaccount-fastapi-metrics-scraper"),
    )
    first = scraper_token(cluster, SETTLE_TIMEOUT)
    first_config = kubeconfig_with_token(cluster, first, "first-scraper-token")
    assert can_i(cluster, first_config, "list", "pods", NAMESPACE) == "yes"

    cluster.kubectl("delete", "secret", "-n", NAMESPACE, SCRAPER_TOKEN_SECRET)
    wait_until(
        lambda: can_i(cluster, first_config, "list", "pods", NAMESPACE) == "unauthorized",
        SETTLE_TIMEOUT, "the token refused once its Secret is gone",
    )  # fmt: skip
    server_side_apply(cluster, as_json(cluster, secret))
    assert scraper_token(cluster, SETTLE_TIMEOUT) == first

    cluster.kubectl("delete", "secret", "-n", NAMESPACE, SCRAPER_TOKEN_SECRET)
    cluster.kubectl("delete", "serviceaccount", "-n", NAMESPACE, METRICS_SCRAPER)
    server_side_apply(cluster, as_json(cluster, account))
    server_side_apply(cluster, as_json(cluster, secret))
    second = scraper_token(cluster, SETTLE_TIMEOUT, other_than=first)
    assert (
        can_i(
            cluster, kubeconfig_with_token(cluster, second, "second-scraper-token"), "list", "pods", NAMESPACE
        )
        == "yes"
    )
    assert can_i(cluster, first_config, "list", "pods", NAMESPACE) == "unauthorized"
