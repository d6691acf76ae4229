"""The ``render`` stage: the requests a build lacks in, cached audio out, through a backend (``podpipe.backends``)
with a shared rate limit, retries with backoff, and one render per key across builds."""

from podpipe.render.limiter import QUOTA_WAIT, WINDOW, RateLimiter
from podpipe.render.scheduler import Outcome, RenderOptions, RenderResult, Scheduler

__all__ = ["QUOTA_WAIT", "WINDOW", "Outcome", "RateLimiter", "RenderOptions", "RenderResult", "Scheduler"]
