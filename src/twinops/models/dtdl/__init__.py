"""DTDL v2/v3 parsing and validation: documents in, validated interfaces or precise problems out.

parse_documents(sources) -> ParseResult(problems, interfaces, documents, model_set)
load_paths(paths)        -> sources read from files and folders
validate_value(schema, value, path) -> violations of a twin value against a DTDL schema
"""

from twinops.models.dtdl.dtmi import Dtmi, parse_dtmi
from twinops.models.dtdl.elements import (
    ArraySchema,
    Command,
    CommandPayload,
    Component,
    Content,
    EnumSchema,
    EnumValue,
    Field,
    Interface,
    MapSchema,
    ObjectSchema,
    PrimitiveSchema,
    Property,
    Relationship,
    Schema,
    Telemetry,
)
from twinops.models.dtdl.modelset import ModelSet
from twinops.models.dtdl.parser import load_paths, parse_documents
from twinops.models.dtdl.problems import DtdlProblem, DtdlSource, ParseResult
from twinops.models.dtdl.validate_values import validate_value

__all__ = [
    "ArraySchema",
    "Command",
    "CommandPayload",
    "Component",
    "Content",
    "DtdlProblem",
    "DtdlSource",
    "Dtmi",
    "EnumSchema",
    "EnumValue",
    "Field",
    "Interface",
    "MapSchema",
    "ModelSet",
    "ObjectSchema",
    "ParseResult",
    "PrimitiveSchema",
    "Property",
    "Relationship",
    "Schema",
    "Telemetry",
    "load_paths",
    "parse_documents",
    "parse_dtmi",
    "validate_value",
]
