"""The one exception type for a user's mistake (a bad file, flag or camera), and the one warning
type for input that is usable but probably not what the user meant."""

from __future__ import annotations

import warnings


class InferenceInputError(ValueError):
    """Bad user input: an unreadable image, a malformed camera file, a depth map of the wrong size,
    contradictory flags.

    The command line prints its message as one line (``error: …``) and exits with status 2, without
    a traceback; every message names the offending value and what to do about it. Anything else that
    escapes is a bug and keeps its traceback.
    """


class InferenceInputWarning(UserWarning):
    """Input that works but probably not as meant: a tiny image blown up, a panorama cropped to a
    sliver, an animated GIF of which only the first frame is used, depth in front of the near plane.

    Library callers get an ordinary Python warning; the command line prints each as one line
    (``warning: …``) on stderr. Every message names the file, what is odd and what is done about it.
    """


def warn_input(message: str) -> None:
    """Issue an :class:`InferenceInputWarning` (always shown, never turned into an error silently)."""
    warnings.warn(message, InferenceInputWarning, stacklevel=2)


__all__ = ["InferenceInputError", "InferenceInputWarning", "warn_input"]
