"""The API's cold-start baseline, like for like: the bare FastAPI + Strawberry + Mangum app built with
the garbage collector paused and frozen after, as the handlers pause it (campaign/cold_start.py).

Imported (not run) by scripts/bench_coldstart.py; see scripts/bench_paused_boto3.py for why.
"""

from campaign.cold_start import collector_paused

with collector_paused():
    from scripts import bench_bare_app

__all__ = ["bench_bare_app"]
