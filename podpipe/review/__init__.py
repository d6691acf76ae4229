"""Take review: every new take is measured and checked before the cache accepts it (issue 18).

``checks`` holds the checks table and the thresholds, ``measure`` what is measured of a take (from the mix's
loudness figures plus two cheap counts), ``reviewer`` the verdicts and each voice's norm learned from the
takes already accepted. The render stage uses a ``Reviewer`` through ``podpipe.render.scheduler.TakeReview``.
"""

from podpipe.review.checks import CHECKS, Norm, Result, Thresholds
from podpipe.review.measure import Measures, measure
from podpipe.cache.takes import (ACCEPTED, FLAGGED, PINNED, REJECTED, is_accepted, rejected_key, take_id,
                                 take_status)
from podpipe.review.reviewer import DEFAULT_RETAKES, Reviewer, Verdict, record, stored_reviews, voice_of

__all__ = ["ACCEPTED", "CHECKS", "DEFAULT_RETAKES", "FLAGGED", "Measures", "Norm", "PINNED", "REJECTED", "Result",
           "Reviewer", "Thresholds", "Verdict", "is_accepted", "measure", "record", "rejected_key", "stored_reviews",
           "take_id", "take_status", "voice_of"]
