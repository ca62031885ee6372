"""What routes take from their application: typed accessors, the one place that reads app.state.

Not `Annotated[..., Depends(...)]` dependencies: FastAPI resolves those on every request, at a cost
GET item measurably pays (docs/service.md#layers), for values that never change.
"""

from starlette.requests import Request

from fastapi_app.settings import Settings
from fastapi_app.store import ItemStore


def store_of(request: Request) -> ItemStore:
    store: ItemStore = request.app.state.store
    return store


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings
