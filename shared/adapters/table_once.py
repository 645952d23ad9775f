"""Creating a store's table on first need, once per process (several coroutines may need it at once)."""

from __future__ import annotations

import asyncio

from azure.core.exceptions import ResourceExistsError
from azure.data.tables.aio import TableClient


class TableCreator:
    def __init__(self, table: TableClient) -> None:
        self._table = table
        self._ready = False
        self._lock = asyncio.Lock()

    async def ensure(self) -> None:
        """Create the table unless this process already has (an existing table is no error)."""
        async with self._lock:
            if not self._ready:
                try:
                    await self._table.create_table()
                except ResourceExistsError:
                    pass
                self._ready = True
