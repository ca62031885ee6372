"""What the routes ask of a store; each backend implements it in a module of its own."""

from typing import Any, Protocol

from fastapi_app.schemas import StoredItem

# What both stores hand out, of the types test_read_json.py writes.
Item = StoredItem

ITEM_FIELDS = ("id", "name", "description", "price", "created_at", "updated_at")


class NameTakenError(Exception):
    """The unique constraint on name: the one conflict validation cannot rule out beforehand."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class ItemStore(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> None:
        """Raises unless the database answers, on a connection outside the requests' pool."""

    async def get(self, item_id: int) -> Item | None: ...

    async def page(self, limit: int, offset: int) -> tuple[list[Item], int]:
        """The items, oldest first, and the collection's total."""

    async def create(self, name: str, description: str | None, price: Any) -> Item: ...

    async def update(self, item_id: int, changes: dict[str, Any]) -> Item | None: ...

    async def delete(self, item_id: int) -> bool: ...
