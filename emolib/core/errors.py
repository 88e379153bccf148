"""The errors emolib raises for problems a user can fix.

Every message names the file or argument at fault and says what to do.  The command line
prints them as one line, without a traceback; anything else that escapes is a bug.
"""


class EmolibError(Exception):
    """Base class: a problem with the input, not with emolib."""


class FileNameError(EmolibError, ValueError):
    """A file name does not follow the EmoDB scheme ``SSTTTEV.wav``."""


class AudioError(EmolibError, ValueError):
    """An audio file is unreadable, truncated, empty, silent, too short or not finite."""


class CorpusNotFoundError(EmolibError, FileNotFoundError):
    """No copy of the corpus where we looked, and it could not be downloaded."""


class DownloadError(EmolibError):
    """A download failed, was damaged, unsafe, or did not match the manifest."""
