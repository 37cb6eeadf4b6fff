"""Store platforms: one gateway per platform (`gateway.py` the protocol, `platforms.py` the registry by name), webhook
verification, payload normalisation, API clients, file formats, a store simulator.

This package knows signatures, payload shapes and HTTP, not our database: it takes bytes and headers and returns the
frozen dataclasses of `integrations.records`. It never imports Django, `forecasting` or `inventory_ai`.
"""
