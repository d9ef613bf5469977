"""Errors raised while reading and parsing input files."""


class IngestError(Exception):
    """Base class: a file could not be turned into articles. The message names the file."""


class UnsupportedFormat(IngestError):
    """The file's extension or content is not one we can parse."""


class EmptyArticle(IngestError):
    """The file parsed, but there is no article text in it."""


class EncryptedDocument(IngestError):
    """The PDF is encrypted and cannot be read without a password."""


class BadEncoding(IngestError):
    """The text file is not valid UTF-8."""


class FetchError(IngestError):
    """A URL could not be fetched or read: unreachable, an HTTP error, too large, bad XML."""
