"""``podpipe publish``: a ``podpipe.feed.Site`` uploaded to object storage (s3://, gs://, az://, file://)
through ``podpipe.storage``, with the right headers, only what changed, the feed last.

Modules: ``publisher`` (``publish``: plan, upload, report), ``policy`` (the ``Cache-Control`` table and the
upload order), ``index`` (the record of what was published, for comparing hashes).
"""

from podpipe.publish.policy import CACHE_CONTROL, INDEX_NAME
from podpipe.publish.publisher import Action, PublishReport, check_target, human_size, publish

__all__ = ["CACHE_CONTROL", "INDEX_NAME", "Action", "PublishReport", "check_target", "human_size", "publish"]
