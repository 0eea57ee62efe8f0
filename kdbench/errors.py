"""Errors a user can fix: the CLI prints them in one line each and exits with code 2."""

from __future__ import annotations


class KdbenchError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""

    exit_code = 2

    def lines(self) -> list[str]:
        """The message, one line per problem."""
        return [str(self)]


class SpecError(KdbenchError):
    """One or more problems in a spec file, each naming the file and the field path."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{self.source}: {problem}" for problem in self.problems]


class PluginError(KdbenchError):
    """A plugin that could not be loaded or that conflicts with another one."""


class UnknownNameError(KdbenchError):
    """A method, model, dataset or track name that no installed plugin provides."""


class DataNotFoundError(KdbenchError):
    """A data set whose files are not on disk and cannot be downloaded."""


class ParamError(KdbenchError):
    """A problem with one parameter of a plugin's thing (a model's ``weights``); ``field`` names
    the parameter, so ``kdbench validate`` reports it under ``...params.<field>``."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field
