"""Exception types of espnet_ext.

Every error raised for bad user input is one of these, and its message names the file, line or
utterance at fault, what was expected, what was found and how to fix it. The CLIs in
``espnet_ext.bin`` print that message (no traceback) and exit with status 2.
"""


class XlingError(Exception):
    """Base class of every user-facing error of espnet_ext."""


class DataDirError(XlingError):
    """A Kaldi-style data directory, or a file or utterance in it, is malformed."""


class CorpusError(XlingError):
    """A source corpus is missing or laid out differently from what its preparer expects."""


class ConfigError(XlingError):
    """A configuration file or option is invalid."""
