"""Every aiohttp application and page, and the wiring of the whole service."""
