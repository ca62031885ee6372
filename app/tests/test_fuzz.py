"""Schema-driven fuzzing: requests generated from the service's own OpenAPI schema, sent over real HTTP.

Every response must be declared in the schema, match its declared body, and never be a server error.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.schemas import OpenApiSchema

from service_process import ServiceProcess


@pytest.fixture(scope="module")
def service(migrated_url: str) -> Iterator[ServiceProcess]:
    with ServiceProcess(migrated_url) as service:
        yield service


@pytest.fixture(scope="module")
def api_schema(service: ServiceProcess) -> OpenApiSchema:
    return schemathesis.openapi.from_url(f"{service.base_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
# Case is generic over schemathesis' internal operation types, which tests have no use for: Any.
def test_every_operation_conforms_to_its_schema(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate()
