"""The error for bad input from the user, raised anywhere in ``ota`` and caught once by :mod:`ota.cli`."""


class UserError(Exception):
    """Bad input from the user: printed as one clear line, exit status 2."""
