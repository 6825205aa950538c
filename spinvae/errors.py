"""The error every command turns into one line for its user."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the command line or a config: printed as one line, exit status 2."""
