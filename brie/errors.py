"""Errors a user can act on. The CLI prints these as one line, without a traceback."""


class BrieError(Exception):
    """Bad input or a state the user can fix; the message says what and how."""


class ModelError(BrieError):
    """A model id or model folder that cannot be used."""


class WorkspaceError(BrieError):
    """No workspace, or one that cannot be opened."""


def read_text(path, error: type[BrieError] = BrieError) -> str:
    """A whole text file as UTF-8 (a byte-order mark an editor added dropped); a file that cannot be
    read or is not UTF-8 is `error`, naming the file, the line and the byte."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - data.rfind(b"\n", 0, e.start)
        raise error(f"{path} line {line}: not UTF-8: byte 0x{data[e.start]:02x} at byte {column}") from None
