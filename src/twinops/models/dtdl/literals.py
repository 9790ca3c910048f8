"""Representational literals and localizable strings, as the DTDL spec defines them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twinops.models.dtdl.metamodel import LANGUAGE_CODE

_XSD = "http://www.w3.org/2001/XMLSchema#"
_INT32 = (-(2**31), 2**31 - 1)


@dataclass(frozen=True)
class LiteralError:
    """Why a JSON value is not the literal a member needs."""

    rule: str
    message: str


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _value_object(
    value: dict[str, Any], version: int, datatype: str, check: Callable[[Any], bool]
) -> tuple[Any, LiteralError | None]:
    for key in value:
        if not key.startswith("@"):
            return None, LiteralError("valueObjectInvalidProp", f"member '{key}' in a value object")
    if version == 2:
        for key in ("@id", "@context", "@graph"):
            if key in value:
                return None, LiteralError(
                    f"valueObject{key[1:].capitalize()}", f"'{key}' in a value object"
                )
    else:
        for key in value:
            if key not in ("@value", "@type"):
                return None, LiteralError("valueObjectKeyword", f"'{key}' in a value object")
    if "@value" not in value:
        return None, LiteralError(f"{datatype}ObjectNoValue", "value object without '@value'")
    declared = value.get("@type", f"xsd:{datatype}")
    if isinstance(declared, list) and len(declared) == 1:
        declared = declared[0]
    if declared not in (f"xsd:{datatype}", _XSD + datatype):
        return None, LiteralError(f"{datatype}TypeNot{datatype.capitalize()}", "wrong '@type'")
    inner = value["@value"]
    if not check(inner):
        return None, LiteralError(
            f"{datatype}ValueNot{datatype.capitalize()}", f"'@value' {inner!r} is not a {datatype}"
        )
    return inner, None


def representational(value: Any, version: int, datatype: str) -> tuple[Any, LiteralError | None]:
    """Decode a representational string, integer or boolean (bare or value object)."""
    checks: dict[str, Callable[[Any], bool]] = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: _is_int(v) and _INT32[0] <= v <= _INT32[1],
        "boolean": lambda v: isinstance(v, bool),
    }
    check = checks[datatype]
    if isinstance(value, dict):
        return _value_object(value, version, datatype, check)
    if check(value):
        return value, None
    return None, LiteralError(
        f"{datatype}NotString" if datatype == "string" else f"{datatype}Not{datatype.capitalize()}",
        f"{value!r} is not a {datatype}",
    )


def localizable(value: Any, version: int) -> tuple[dict[str, str], LiteralError | None]:
    """Decode a localizable string into a language map."""
    if isinstance(value, str):
        return {"en": value}, None
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for code, text in value.items():
            if not LANGUAGE_CODE.match(code):
                rule = "langMapObjKeyword" if code.startswith("@") else "langStringInvalidCode"
                return {}, LiteralError(rule, f"'{code}' is not a language code")
            if not isinstance(text, str):
                return {}, LiteralError(
                    "langStringValueNotString", f"value for '{code}' is not a string"
                )
            out[code] = text
        return out, None
    if isinstance(value, list):
        return _lang_array(value, version)
    return {}, LiteralError("langStringNotLangString", f"{value!r} is not a localizable string")


def _lang_array(items: list[Any], version: int) -> tuple[dict[str, str], LiteralError | None]:
    out: dict[str, str] = {}
    defaults = 0
    for item in items:
        if isinstance(item, str):
            defaults += 1
            out["en"] = item
            continue
        if not isinstance(item, dict):
            return {}, LiteralError(
                "langStringElementNotStringOrObject", f"{item!r} in a langstring"
            )
        for key in item:
            if not key.startswith("@"):
                return {}, LiteralError("langStringElementInvalidProp", f"member '{key}'")
        if version == 2:
            for key in ("@id", "@context", "@graph"):
                if key in item:
                    rule = "langStringElementId" if key == "@id" else "langStringElementGraph"
                    return {}, LiteralError(rule, f"'{key}' in a language-tagged value")
        else:
            for key in item:
                if key not in ("@value", "@language"):
                    return {}, LiteralError("langStringElementKeyword", f"'{key}' in a langstring")
        if "@value" not in item:
            return {}, LiteralError(
                "langStringElementNoValue", "language-tagged value without '@value'"
            )
        if not isinstance(item["@value"], str):
            return {}, LiteralError("langStringElementValueNotString", "'@value' is not a string")
        code = item.get("@language")
        if code is None:
            defaults += 1
            out["en"] = item["@value"]
            continue
        if not isinstance(code, str) or not LANGUAGE_CODE.match(code):
            return {}, LiteralError(
                "langStringElementInvalidCode", f"'{code}' is not a language code"
            )
        if code in out and code != "en":
            return {}, LiteralError("langStringElementCodeNotUnique", f"language '{code}' repeated")
        if code == "en":
            defaults += 1
        out[code] = item["@value"]
    if defaults > 1:
        return {}, LiteralError(
            "inconsistentLangStringValues", "more than one default-language value"
        )
    return out, None
