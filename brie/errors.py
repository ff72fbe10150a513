"""Errors a user can act on. The CLI prints these as one line, without a traceback."""


class BrieError(Exception):
    """Bad input or a state the user can fix; the message says what and how."""


class ModelError(BrieError):
    """A model id or model folder that cannot be used."""


class WorkspaceError(BrieError):
    """No workspace, or one that cannot be opened."""
