"""The stack's rendered objects on the control plane: the names `npm run synth` gives them, a rendered
manifest read as JSON, an object applied as Pulumi's Kubernetes provider applies it, and the metrics scraper's
token that the token controller writes."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

from control_plane import REPO, ControlPlane, Json
from local_stack import wait_until

SYNTH_DIR = REPO / "build" / "synth"
NAMESPACE = "fastapi-app"
APP = "app=fastapi"
DEPLOYMENT = "fastapi-deployment"
METRICS_SCRAPER = "fastapi-metrics-scraper"
SCRAPER_TOKEN_SECRET = f"{METRICS_SCRAPER}-token"
# The field manager Pulumi's Kubernetes provider applies under.
FIELD_MANAGER = "pulumi-kubernetes"


def as_json(control_plane: ControlPlane, manifest: Path) -> Json:
    document: Json = json.loads(
        control_plane.kubectl("create", "--dry-run=client", "-o", "json", "-f", str(manifest)).stdout
    )
    return document


def server_side_apply(control_plane: ControlPlane, manifest: Json) -> subprocess.CompletedProcess[str]:
    return control_plane.kubectl(
        "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-", stdin=json.dumps(manifest)
    )


def scraper_token(control_plane: ControlPlane, timeout: float, other_than: str | None = None) -> str:
    """The token the controller wrote into the scraper's Secret (the stack's metricsScraperToken output)."""

    def token() -> str | None:
        found = control_plane.kubectl(
            "get", "secret", "-n", NAMESPACE, SCRAPER_TOKEN_SECRET, "-o", "json", check=False
        )
        encoded = (json.loads(found.stdout).get("data") or {}).get("token") if found.returncode == 0 else None
        value = base64.b64decode(encoded).decode() if encoded else None
        return value if value != other_than else None

    return wait_until(token, timeout, "the scraper's token")
