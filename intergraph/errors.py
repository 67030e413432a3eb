"""The one root of every error intergraph reports to its user.

An :class:`IntergraphError` is a problem with the user's inputs, data, settings or environment: the command
line prints its message in one line (no traceback) and exits with status 2. Any other exception is a bug
and keeps its traceback. The two subclasses keep the built-in kind too, so ``except ValueError`` /
``except FileNotFoundError`` written against the standard library still catch them.
"""
from __future__ import annotations


class IntergraphError(Exception):
    """A problem the user can fix; the message names the file or setting and the problem."""


class InputError(IntergraphError, ValueError):
    """Bad input: a file that is not what it should be, a setting out of range, an unknown name."""


class MissingError(IntergraphError, FileNotFoundError):
    """Something needed is not there: a file, a data set, a run folder, model weights."""
