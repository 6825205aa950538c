"""The error every command turns into one line for its user."""

from __future__ import annotations

import errno


class UserError(Exception):
    """Bad input from the command line or a config: printed as one line, exit status 2."""


class SettingError(ValueError):
    """A settings dataclass's field out of its range: ``field`` names it, so a command can name its option."""

    def __init__(self, field: str, value: object, reason: str):
        super().__init__(f"{field} {value}: {reason}")
        self.field, self.value, self.reason = field, value, reason


#: what the machine refuses (not a bug of spinvae's, nor a mistake in the command): said on one line
ENVIRONMENT_ERRNOS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
                      errno.EROFS: "a read-only file system", errno.EACCES: "permission denied"}


def user_error_in(err: BaseException | None) -> UserError | None:
    """The :class:`UserError` that ``err`` is, or was caused by (frameworks such as LightningCLI and Optuna
    wrap what they call), or one made from a full disk or a refused write; None for anything else (a bug,
    to be shown with its traceback)."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, UserError):
            return err
        if isinstance(err, OSError) and err.errno in ENVIRONMENT_ERRNOS:
            where = f"{err.filename}: " if err.filename else ""
            return UserError(f"{where}cannot write: {ENVIRONMENT_ERRNOS[err.errno]}; make room (or fix the permissions) "
                             f"and run the same command again: what was finished is kept")
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None
