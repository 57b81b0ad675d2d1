"""Problems found in specs, reported as values, always with the place they refer to."""

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class SourcePosition:
    """A place in a spec file: the path as the user gave it, 1-based line and column."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True, order=True)
class Diagnostic:
    position: SourcePosition
    message: str
    #: A warning says something the spec may not mean, but the spec is valid and generates.
    warning: bool = False

    def __str__(self) -> str:
        # One line, whatever the names it quotes hold: unprintable characters (line breaks above all) are escaped.
        line = f"{self.position}: {'warning: ' if self.warning else ''}{self.message}"
        return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in line)


class SpecError(Exception):
    """Raised with every problem found, once all of them are known."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(set(diagnostics))
        super().__init__("\n".join(str(diagnostic) for diagnostic in self.diagnostics))
