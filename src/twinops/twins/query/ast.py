"""The query's syntax tree: frozen values, built by the parser and read by the compiler."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

JsonScalar = str | int | float | bool | None


@dataclass(frozen=True, eq=False)
class Literal:
    """A constant: a string, a number, ``true``/``false`` or ``null``."""

    value: JsonScalar

    # Python holds True == 1 and 1 == 1.0; a query does not, so equality includes the type.
    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Literal)
            and type(self.value) is type(other.value)
            and self.value == other.value
        )

    def __hash__(self) -> int:
        return hash((type(self.value), self.value))


@dataclass(frozen=True)
class PropertyPath:
    """``alias.seg1.seg2``; ``alias`` is None when FROM names no alias, no segments = the alias."""

    alias: str | None
    segments: tuple[str, ...]


class CompareOp(StrEnum):
    """A comparison operator (``<>`` is read as ``!=``)."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="

    def flipped(self) -> CompareOp:
        """The operator with its operands swapped (``5 < x`` is ``x > 5``)."""
        return _FLIPPED[self]


_FLIPPED = {
    CompareOp.EQ: CompareOp.EQ,
    CompareOp.NE: CompareOp.NE,
    CompareOp.LT: CompareOp.GT,
    CompareOp.LE: CompareOp.GE,
    CompareOp.GT: CompareOp.LT,
    CompareOp.GE: CompareOp.LE,
}


class TypeFunction(StrEnum):
    """The type-checking functions, each true or false but never undefined."""

    IS_DEFINED = "IS_DEFINED"
    IS_NULL = "IS_NULL"
    IS_BOOL = "IS_BOOL"
    IS_NUMBER = "IS_NUMBER"
    IS_STRING = "IS_STRING"
    IS_OBJECT = "IS_OBJECT"
    IS_PRIMITIVE = "IS_PRIMITIVE"


class StringFunction(StrEnum):
    """The case-sensitive string-matching functions."""

    STARTSWITH = "STARTSWITH"
    ENDSWITH = "ENDSWITH"
    CONTAINS = "CONTAINS"


@dataclass(frozen=True)
class Comparison:
    """``path op literal``; a literal written first is normalised to this form."""

    path: PropertyPath
    op: CompareOp
    value: Literal


@dataclass(frozen=True)
class InList:
    """``path IN [...]`` or, negated, ``path NIN [...]``."""

    path: PropertyPath
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsOfModel:
    """``IS_OF_MODEL([alias,] 'dtmi' [, exact])``; alias None means the only twin alias."""

    alias: str | None
    model: str
    exact: bool = False


@dataclass(frozen=True)
class TypeCheck:
    """``IS_DEFINED(path)``, ``IS_NUMBER(path)``, ..."""

    function: TypeFunction
    path: PropertyPath


@dataclass(frozen=True)
class StringMatch:
    """``STARTSWITH(path, 'x')``, ``ENDSWITH``, ``CONTAINS``."""

    function: StringFunction
    path: PropertyPath
    value: str


@dataclass(frozen=True)
class And:
    """All operands hold (two or more)."""

    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """Any operand holds (two or more)."""

    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    """The operand does not hold."""

    operand: Expr


Expr = Comparison | InList | IsOfModel | TypeCheck | StringMatch | And | Or | Not


@dataclass(frozen=True)
class Star:
    """``SELECT *``."""


@dataclass(frozen=True)
class CountAll:
    """``SELECT COUNT()``."""


@dataclass(frozen=True)
class SelectItem:
    """One projected alias or property, optionally renamed with ``AS name``."""

    path: PropertyPath
    name: str | None = None

    @property
    def key(self) -> str:
        """The key the value gets in each result item, as ADT names it."""
        if self.name is not None:
            return self.name
        if self.path.segments:
            return self.path.segments[-1]
        return self.path.alias or ""


Projection = Star | CountAll | tuple[SelectItem, ...]


@dataclass(frozen=True)
class Join:
    """``JOIN alias RELATED source.relationship [relationship_alias]``."""

    alias: str
    source: str
    relationship: str
    relationship_alias: str | None = None


@dataclass(frozen=True)
class Query:
    """A whole query: projection, the twin collection and its joins, filter, TOP."""

    projection: Projection
    alias: str | None = None
    joins: tuple[Join, ...] = ()
    where: Expr | None = None
    top: int | None = None
