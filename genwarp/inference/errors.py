"""The one exception type for a user's mistake (a bad file, flag or camera)."""

from __future__ import annotations


class InferenceInputError(ValueError):
    """Bad user input: an unreadable image, a malformed camera file, a depth map of the wrong size,
    contradictory flags.

    The command line prints its message as one line (``error: …``) and exits with status 2, without
    a traceback; every message names the offending value and what to do about it. Anything else that
    escapes is a bug and keeps its traceback.
    """


__all__ = ["InferenceInputError"]
