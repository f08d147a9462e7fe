"""Remote engines: one module per generation provider (``tripo.py``, ``meshy.py``).

They share ``client.py`` (the HTTP session of one task: retries, polling, download limits),
``engine.py`` (settings, the GLB into an Asset) and ``settings.py`` (``MESHFORGE_REMOTE_*`` and
each provider's key and base URL). They are registered in ``engines/base.py`` by name and load
only when used, so ``import meshforge`` never imports httpx.
"""
