"""The errors alignkit raises on bad input. Each message says what went wrong and what to do."""


class AlignkitError(Exception):
    """Base class: catch this to handle any problem alignkit diagnosed itself."""


class CheckpointError(AlignkitError):
    """A zoo checkpoint is missing, corrupt, or does not match its manifest."""


class DataFileError(AlignkitError):
    """A generated data file is missing or malformed."""


class QuizBankError(AlignkitError):
    """A quiz bank does not follow the schema in quizzes/README.md."""


class AnswerTypeError(AlignkitError, TypeError):
    """A learner's answer has the wrong type for its question or exercise."""


class UnsupportedVersionError(AlignkitError):
    """An installed library is older or newer than alignkit supports."""


class OutOfMemory(AlignkitError, MemoryError):
    """Training or generation ran out of memory; the message says which setting to lower."""
