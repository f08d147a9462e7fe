"""Job execution: ``runner`` runs one job from the catalog; ``local`` is the embedded pool of
worker processes that claim queued jobs, keep them alive with heartbeats and re-run the jobs of
workers that died; ``dispatch`` (the API side) and ``celery_app`` (the worker side) carry "job X
is ready" over a Celery broker, the catalog staying the queue of record."""
