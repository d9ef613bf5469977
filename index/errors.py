"""Errors raised by the stores and the search index."""


class SearchIndexError(Exception):
    """Base class for index problems."""


class IndexNotBuilt(SearchIndexError):
    """There is no index generation yet: ingest some articles first."""


class EmbedderMismatch(SearchIndexError):
    """The index was built with another embedder (name or dimension): re-index."""


class IndexBusy(SearchIndexError):
    """Another process or job is building the index right now."""


class NotFound(SearchIndexError):
    """No stored article has that id."""


class NotOnThisBackend(SearchIndexError):
    """A feature the embedded store has and the Postgres backend does not yet have."""
