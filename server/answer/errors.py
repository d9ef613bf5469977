"""Errors of the answering package."""

from __future__ import annotations


class AnswerError(Exception):
    """Base class of the answering package's errors."""


class ModelFileError(AnswerError):
    """The selector's model file is missing, unreadable or of another version."""
