"""Object storage, as podpipe uses it for the shared remote cache (``podpipe.cache.remote``) and for
``podpipe publish``: ``parse_url`` checks a store URL (s3://, gs://, az://, file://, http(s)://) and
``open_blobs`` opens it as ``Blobs``, the one contract every kind of store implements (``blobs``).

Modules: ``urls`` (schemes, extras, opening), ``blobs`` (the contract), one module per kind of store
(``local``, ``s3``, ``fsspec_store`` for gs/az, ``http``). No storage library is imported before a store is
opened.
"""

from podpipe.storage.blobs import Blobs, Cors, Meta, Stat, Unsupported, content_tag
from podpipe.storage.urls import Location, open_blobs, parse_url

__all__ = ["Blobs", "Cors", "Location", "Meta", "Stat", "Unsupported", "content_tag", "open_blobs", "parse_url"]
