"""The worker's cold-start baseline, like for like: `import boto3` with the garbage collector paused and
frozen after, as the handlers pause it for their own imports (campaign/cold_start.py).

Imported (not run) by scripts/bench_coldstart.py. The verdict compares the worker as it ships with
`import boto3` as the issue defines it; against this module it shows how much of the margin is the
pause's, which the baseline could have too.
"""

from campaign.cold_start import collector_paused

with collector_paused():
    import boto3

__all__ = ["boto3"]
