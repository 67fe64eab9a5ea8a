"""Qt-free runtime: asyncio, SQLite store, files, processes, network."""
