"""One control plane for the whole session; its processes stop by PID even when a test fails. A failed test's
report shows the cluster as it was: nodes, pods and recent events."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from control_plane import ControlPlane


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with ControlPlane.running(tmp_path_factory.mktemp("controlplane")) as running:
        yield running


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    fixtures = getattr(item, "funcargs", {})
    control_plane = fixtures.get("cluster") or fixtures.get("control_plane")
    if call.when == "call" and call.excinfo is not None and isinstance(control_plane, ControlPlane):
        state = control_plane.kubectl(
            "get", "nodes,pods,events", "--all-namespaces", "-o", "wide", check=False
        )  # fmt: skip
        report.sections.append(("cluster state when the test failed", state.stdout + state.stderr))
    return report
