"""Probes: /health says the process answers, /ready says it can reach its database."""

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from fastapi_app.admission import OverloadedError
from fastapi_app.errors import DATABASE_ERRORS, database_unavailable_response, responses
from fastapi_app.routes.deps import settings_of, store_of

logger = logging.getLogger(__name__)

router = APIRouter(tags=["probes"])


class Status(BaseModel):
    status: str


# GET is answered before routing by middleware.liveness, with this same body; HEAD arrives here.
@router.get("/health", summary="Liveness: the process answers (never touches the database)")
@router.head("/health", include_in_schema=False)
async def health() -> Status:
    return Status(status="ok")


@router.get(
    "/ready",
    response_model=Status,
    responses=responses(503),
    summary="Readiness: the database answers SELECT 1",
)
async def ready(request: Request) -> Status | Response:
    try:
        async with asyncio.timeout(settings_of(request).readiness_timeout):
            await store_of(request).ping()
    except (*DATABASE_ERRORS, OverloadedError) as error:
        # Whatever stops SELECT 1, the pod cannot serve: not ready.
        logger.warning("not ready: database check failed: %s", type(error).__name__)
        return database_unavailable_response()
    return Status(status="ok")
