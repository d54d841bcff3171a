"""The errors alignkit raises on bad input. Each message says what went wrong and what to do."""
from contextlib import contextmanager


class AlignkitError(Exception):
    """Base class: catch this to handle any problem alignkit diagnosed itself."""


class CheckpointError(AlignkitError):
    """A zoo checkpoint is missing, corrupt, or does not match its manifest."""


class DataFileError(AlignkitError):
    """A generated data file is missing or malformed."""


class QuizBankError(AlignkitError):
    """A quiz bank does not follow the schema in quizzes/README.md."""


class ConstitutionError(AlignkitError):
    """The constitution file does not follow the schema in data/constitution.yaml's header."""


class AnswerTypeError(AlignkitError, TypeError):
    """A learner's answer has the wrong type for its question or exercise."""


class UnsupportedVersionError(AlignkitError):
    """An installed library is older or newer than alignkit supports."""


class OutOfMemory(AlignkitError, MemoryError):
    """Training or generation ran out of memory; the message says which setting to lower."""


@contextmanager
def explain_out_of_memory(what: str, advice: str):
    """Turn an out-of-memory crash inside `what` into an OutOfMemory that says which setting to lower."""
    try:
        yield
    except Exception as err:  # torch raises torch.OutOfMemoryError or a RuntimeError mentioning it
        if isinstance(err, MemoryError) or "out of memory" in str(err).lower():
            raise OutOfMemory(f"{what} ran out of memory. {advice} "
                              "On a GPU, also close other notebooks that hold GPU memory.") from err
        raise
