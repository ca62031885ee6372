"""A Kubernetes control plane on loopback, as real processes: etcd, kube-apiserver (TLS, RBAC, the default
admission plugins), kube-controller-manager, kube-scheduler, and kwok, whose simulated nodes run pods
without a kubelet. Tests import ControlPlane and drive it with kubectl."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "tests" / "controlplane" / "binaries" / "build"

# The monitoring suite's process helpers: a child process with its log, and polling with a deadline.
sys.path.insert(0, str(REPO / "tests" / "monitoring"))
from local_stack import ManagedProcess, wait_until  # noqa: E402 - after the path is set
from postgres_server import free_port  # noqa: E402

STARTUP_TIMEOUT = 120.0
# Addresses the API server only allocates and records: no traffic is ever sent to them.
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"

# EKS's figures for a t3.medium node: 2 vCPU, 4 GiB, what the kubelet leaves allocatable after its own and the
# system's reservations, and the 17 pods the VPC CNI gives that instance type.
T3_MEDIUM_CAPACITY = {"cpu": "2", "memory": "3943Mi", "pods": "17", "ephemeral-storage": "20Gi"}
T3_MEDIUM_ALLOCATABLE = {"cpu": "1930m", "memory": "3388Mi", "pods": "17", "ephemeral-storage": "18Gi"}

Json = dict[str, Any]


def tools_dir() -> Path:
    """Where scripts/setup built the binaries of the pinned versions (tests/controlplane/binaries/build)."""
    printed = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-dir"], check=True, capture_output=True, text=True
    ).stdout
    directory = Path(printed.strip())
    if not (directory / ".complete").exists():
        raise FileNotFoundError(f"no control plane in {directory}: run scripts/setup controlplane")
    return directory


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd)


class Pki:
    """A throwaway certificate authority with the API server's serving certificate, one client certificate per
    component and the service-account signing key, all in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True)
        _openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=controlplane-test-ca",
            cwd=directory,
        )  # fmt: skip
        self.issue(
            "kube-apiserver",
            "/CN=kube-apiserver",
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc,IP:10.96.0.1",
        )
        _openssl("genrsa", "-out", "service-account.key", "2048", cwd=directory)
        _openssl("rsa", "-in", "service-account.key", "-pubout", "-out", "service-account.pub", cwd=directory)

    def path(self, name: str) -> str:
        return str(self.directory / name)

    def issue(self, name: str, subject: str, extension: str = "basicConstraints=CA:FALSE") -> None:
        """A key and a certificate signed by the CA: name.key, name.crt."""
        _openssl(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, "-addext", extension,
            cwd=self.directory,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "1", "-copy_extensions", "copyall", "-out", f"{name}.crt",
            cwd=self.directory,
        )  # fmt: skip


class ControlPlane:
    """Started by `ControlPlane.running(work_dir)`; every process it started is stopped by its PID on the way
    out, whatever happened inside."""

    def __init__(self, work_dir: Path, tools: Path) -> None:
        self.work_dir = work_dir
        self.bin = tools / "bin"
        self.kwok_stages = tools / "kwok-stages.yaml"
        self.processes: list[ManagedProcess] = []
        self.api_port = free_port()
        self.pki = Pki(work_dir / "pki")
        self.admin_kubeconfig = self._kubeconfig("admin", "/O=system:masters/CN=controlplane-test-admin")

    @classmethod
    @contextmanager
    def running(cls, work_dir: Path) -> Iterator[ControlPlane]:
        control_plane = cls(work_dir, tools_dir())
        try:
            control_plane.start()
            yield control_plane
        finally:
            control_plane.stop()

    def _kubeconfig(self, user: str, subject: str) -> Path:
        self.pki.issue(user, subject, "extendedKeyUsage=clientAuth")
        path = self.work_dir / f"{user}.kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "controlplane",
                    "cluster": {
                        "server": f"https://127.0.0.1:{self.api_port}",
                        "certificate-authority": self.pki.path("ca.crt"),
                    },
                }
            ],
            "users": [
                {
                    "name": user,
                    "user": {
                        "client-certificate": self.pki.path(f"{user}.crt"),
                        "client-key": self.pki.path(f"{user}.key"),
                    },
                }
            ],
            "contexts": [{"name": user, "context": {"cluster": "controlplane", "user": user}}],
            "current-context": user,
        }
        path.write_text(json.dumps(config))
        return path

    def _start(self, name: str, args: list[str]) -> ManagedProcess:
        process = ManagedProcess(name, [str(self.bin / name), *args], self.work_dir)
        self.processes.append(process)
        return process

    def start(self) -> None:
        etcd_port, etcd_peer_port = free_port(), free_port()
        etcd = self._start(
            "etcd",
            [
                "--name=controlplane",
                f"--data-dir={self.work_dir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer_port}",
                f"--initial-cluster=controlplane=http://127.0.0.1:{etcd_peer_port}",
                # A throwaway store on a shared machine: durability buys nothing, fsync slows every write.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        apiserver = self._start(
            "kube-apiserver",
            [
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.api_port}",
                f"--tls-cert-file={self.pki.path('kube-apiserver.crt')}",
                f"--tls-private-key-file={self.pki.path('kube-apiserver.key')}",
                f"--client-ca-file={self.pki.path('ca.crt')}",
                "--authorization-mode=Node,RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={self.pki.path('service-account.pub')}",
                f"--service-account-signing-key-file={self.pki.path('service-account.key')}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                # The `kubernetes` Service's endpoint would be the loopback address, which Endpoints refuse.
                "--endpoint-reconciler-type=none",
                "--profiling=false",
            ],
        )

        def api_ready() -> bool:
            etcd.assert_running()
            apiserver.assert_running()
            return self.kubectl("get", "--raw", "/readyz", check=False).returncode == 0

        wait_until(api_ready, STARTUP_TIMEOUT, "kube-apiserver was not ready", interval=1.0)

        controller_manager = self._kubeconfig("kube-controller-manager", "/CN=system:kube-controller-manager")
        self._start(
            "kube-controller-manager",
            [
                f"--kubeconfig={controller_manager}",
                # Each controller acts under its own service account, so RBAC limits it as in a real cluster.
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={self.pki.path('service-account.key')}",
                f"--root-ca-file={self.pki.path('ca.crt')}",
                "--secure-port=0",
                "--leader-elect=false",
                "--horizontal-pod-autoscaler-sync-period=5s",
            ],
        )
        scheduler = self._kubeconfig("kube-scheduler", "/CN=system:kube-scheduler")
        self._start(
            "kube-scheduler", [f"--kubeconfig={scheduler}", "--secure-port=0", "--leader-elect=false"]
        )
        # kwok plays every node's kubelet, which needs more than one node's rights.
        kwok = self._kubeconfig("kwok", "/O=system:masters/CN=kwok")
        self._start(
            "kwok",
            [
                f"--kubeconfig={kwok}",
                f"--config={self.kwok_stages}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
                f"--server-address=127.0.0.1:{free_port()}",
                "--node-lease-duration-seconds=40",
            ],
        )

        def default_service_account() -> bool:
            self.assert_running()
            return self.kubectl("get", "serviceaccount", "default", check=False).returncode == 0

        wait_until(default_service_account, STARTUP_TIMEOUT, "the controllers did not start", interval=1.0)

    def assert_running(self) -> None:
        for process in self.processes:
            process.assert_running()

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def kubectl_command(self, *args: str, kubeconfig: Path | None = None) -> list[str]:
        """kubectl's command line for `args`, as the admin unless another kubeconfig is given."""
        return [str(self.bin / "kubectl"), f"--kubeconfig={kubeconfig or self.admin_kubeconfig}", *args]

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 180.0
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.kubectl_command(*args),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result

    def get(self, *args: str) -> Json:
        document: Json = json.loads(self.kubectl("get", *args, "-o", "json").stdout)
        return document

    def add_node(self, name: str, zone: str) -> None:
        """A simulated t3.medium node in `zone`, labelled as EKS labels nodes; returns once it is Ready."""
        region = zone[:-1]
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {KWOK_NODE_ANNOTATION: "fake"},
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "node.kubernetes.io/instance-type": "t3.medium",
                    "topology.kubernetes.io/region": region,
                    "topology.kubernetes.io/zone": zone,
                },
            },
            "status": {"capacity": T3_MEDIUM_CAPACITY, "allocatable": T3_MEDIUM_ALLOCATABLE},
        }
        self.kubectl("create", "-f", "-", stdin=json.dumps(node))

        def schedulable() -> bool:
            self.assert_running()
            live = self.get("node", name)
            ready = any(
                condition["type"] == "Ready" and condition["status"] == "True"
                for condition in live["status"].get("conditions", [])
            )
            return ready and not live["spec"].get("taints")

        wait_until(schedulable, STARTUP_TIMEOUT, f"node {name} did not become Ready and untainted")


class PodWatch:
    """Follows the pods matching a label selector through `kubectl get --watch`, keeping each pod's latest
    state, and records the fewest Ready pods, and the fewest nodes holding them, seen since `reset()`."""

    def __init__(self, control_plane: ControlPlane, namespace: str, selector: str) -> None:
        self.pods: dict[str, Json] = {}
        self.min_ready = 0
        self.min_ready_nodes = 0
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            control_plane.kubectl_command(
                "get", "pods", "--namespace", namespace, "--selector", selector,
                "--watch", "--output-watch-events", "--output", "json",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        assert self._process.stdout is not None
        decoder = json.JSONDecoder()
        buffered = ""
        for line in self._process.stdout:
            buffered += line
            try:
                event, _ = decoder.raw_decode(buffered)
            except json.JSONDecodeError:
                continue
            buffered = ""
            pod = event["object"]
            with self._lock:
                if event["type"] == "DELETED":
                    self.pods.pop(pod["metadata"]["name"], None)
                else:
                    self.pods[pod["metadata"]["name"]] = pod
                self._record()

    def _ready_now(self) -> tuple[int, int]:
        ready = [pod for pod in self.pods.values() if is_ready(pod)]
        return len(ready), len({pod["spec"]["nodeName"] for pod in ready})

    def _record(self) -> None:
        ready, nodes = self._ready_now()
        self.min_ready = min(self.min_ready, ready)
        self.min_ready_nodes = min(self.min_ready_nodes, nodes)

    def reset(self) -> None:
        """Starts a new observation from the current state."""
        with self._lock:
            self.min_ready, self.min_ready_nodes = self._ready_now()

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(10)
        self._thread.join(10)


def is_ready(pod: Json) -> bool:
    """Ready and not on its way out: a terminating pod no longer receives traffic."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = pod.get("status", {}).get("conditions", [])
    return any(condition["type"] == "Ready" and condition["status"] == "True" for condition in conditions)


@contextmanager
def watching(control_plane: ControlPlane, namespace: str, selector: str) -> Iterator[PodWatch]:
    watch = PodWatch(control_plane, namespace, selector)
    try:
        yield watch
    finally:
        watch.stop()
