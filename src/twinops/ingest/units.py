"""Unit conversion for telemetry: DTDL units -> pint units, source spellings, cached affine maps.

Every field has a canonical unit from its model (a DTDL unit name such as ``kilopascal``); a
source may declare its own unit in a free spelling (``psi``, ``m³/h``, ``°F``). The converter
parses both with one shared pint registry, checks that they measure the same thing, and caches
the conversion as an affine map ``canonical = value * scale + offset`` so the hot loop does one
multiply-add instead of pint arithmetic. Anything unknown or incompatible raises
:class:`~twinops.errors.InvalidInput` (rule ``unknownUnit`` / ``incompatibleUnit``) so the
pipeline quarantines the point instead of guessing.

Decisions worth knowing:

* Compatibility is stricter than pint's: two units must reduce to the same *root* units, and
  pint's dimensionless base units (radian, bit, count, steradian) count as dimensions. So
  ``rpm`` -> ``radian/second`` works but ``rpm`` -> ``hertz`` and ``radian`` -> ``percent`` do
  not, and ``becquerel`` (counts per second) is not ``hertz``.
* Temperatures are absolute (offset) units: 212 °F -> 100 °C.
* ``g`` is gram and ``G`` gauss unless the target is an acceleration, where both mean standard
  gravity (gForce); ``C``/``F`` are coulomb/farad unless the target is a temperature.
* DTDL units pint lacks or models differently are defined in the registry (``_DEFINITIONS``):
  apparent (VA) and reactive (var) power are their own dimensions, not watts; gauss and maxwell
  are SI-equivalent (pint's are Gaussian-system units); bel/decibel are linear sound-pressure
  *levels* (their own dimension), not pint's logarithmic ratios; sievert is its own dimension
  (dose equivalent), not gray; ppb/ppt/ppq are dimensionless ratios (pint reads ``ppt`` as a
  picopint); footcandle and the international acre are added.
* DTDL force units ``pound``/``ounce``/``ton`` are pound-force, ounce-force and short ton-force;
  ``massPound`` is the avoirdupois pound; ``gallon`` and ``fluidOunce`` are US liquid measures;
  ``year`` is the Julian year (365.25 days); ``horsepower`` is mechanical (745.7 W);
  ``inchesOfWater``/``inchesOfMercury``/``millimetresOfMercury`` are the conventional ones.
* ``unity`` and ``percent`` are dimensionless and interconvert (0.5 unity = 50 percent).
* A field without a unit accepts only points without a unit (or a plain ``unity``/``1``).
"""

from __future__ import annotations

import functools
import importlib
import math
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Final

import pint

from twinops.errors import InvalidInput, Violation

__all__ = [
    "CASELESS_ALIASES",
    "DTDL_UNITS",
    "Affine",
    "Registry",
    "UnitConverter",
    "canonical",
    "conversion",
    "convert",
    "convert_many",
    "default_converter",
    "parse_source_unit",
]

# Units and dimensions the default pint registry lacks, or has with a meaning DTDL does not use.
_DEFINITIONS: Final = (
    "volt_ampere_apparent = [apparent_power]",
    "volt_ampere_reactive = [reactive_power]",
    "bel_sound_pressure_level = [sound_pressure_level]",
    "decibel_sound_pressure_level = 0.1 * bel_sound_pressure_level",
    "sievert_dose_equivalent = [dose_equivalent]",
    "gauss_si = 1e-4 * tesla",
    "maxwell_si = 1e-8 * weber",
    "parts_per_million = 1e-6",
    "parts_per_billion = 1e-9",
    "parts_per_trillion = 1e-12",
    "parts_per_quadrillion = 1e-15",
    "footcandle = lumen / foot ** 2",
    "international_acre = 4046.8564224 * meter ** 2",
)


def _table(text: str) -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in text.strip().splitlines():
        name, _, expression = line.partition("=")
        rows[name.strip()] = expression.strip()
    return rows


_SPL = "_sound_pressure_level"
_SV = "sievert_dose_equivalent"

# Every unit of DTDL v2 and of the v3 quantitativeTypes extension -> a pint expression.
_DTDL = _table(
    f"""
    centimetrePerSecondSquared = centimeter / second ** 2
    gForce = standard_gravity
    metrePerSecondSquared = meter / second ** 2
    degreeOfArc = degree
    minuteOfArc = arcminute
    radian = radian
    secondOfArc = arcsecond
    turn = turn
    radianPerSecondSquared = radian / second ** 2
    degreePerSecond = degree / second
    radianPerSecond = radian / second
    revolutionPerMinute = revolution / minute
    revolutionPerSecond = revolution / second
    acre = international_acre
    hectare = hectare
    squareCentimetre = centimeter ** 2
    squareFoot = foot ** 2
    squareInch = inch ** 2
    squareKilometre = kilometer ** 2
    squareMetre = meter ** 2
    squareMillimetre = millimeter ** 2
    farad = farad
    microfarad = microfarad
    millifarad = millifarad
    nanofarad = nanofarad
    picofarad = picofarad
    ampere = ampere
    kiloampere = kiloampere
    microampere = microampere
    milliampere = milliampere
    bitPerSecond = bit / second
    bytePerSecond = byte / second
    kibibitPerSecond = kibibit / second
    kibibytePerSecond = kibibyte / second
    mebibitPerSecond = mebibit / second
    mebibytePerSecond = mebibyte / second
    gibibitPerSecond = gibibit / second
    gibibytePerSecond = gibibyte / second
    tebibitPerSecond = tebibit / second
    tebibytePerSecond = tebibyte / second
    exbibitPerSecond = exbibit / second
    exbibytePerSecond = exbibyte / second
    zebibitPerSecond = zebibit / second
    zebibytePerSecond = zebibyte / second
    yobibitPerSecond = yobibit / second
    yobibytePerSecond = yobibyte / second
    bit = bit
    byte = byte
    kibibit = kibibit
    kibibyte = kibibyte
    mebibit = mebibit
    mebibyte = mebibyte
    gibibit = gibibit
    gibibyte = gibibyte
    tebibit = tebibit
    tebibyte = tebibyte
    exbibit = exbibit
    exbibyte = exbibyte
    zebibit = zebibit
    zebibyte = zebibyte
    yobibit = yobibit
    yobibyte = yobibyte
    gramPerCubicMetre = gram / meter ** 3
    kilogramPerCubicMetre = kilogram / meter ** 3
    microgramPerCubicMetre = microgram / meter ** 3
    milligramPerCubicMetre = milligram / meter ** 3
    astronomicalUnit = astronomical_unit
    centimetre = centimeter
    foot = foot
    inch = inch
    kilometre = kilometer
    metre = meter
    micrometre = micrometer
    mile = mile
    millimetre = millimeter
    nanometre = nanometer
    nauticalMile = nautical_mile
    coulomb = coulomb
    ampereHour = ampere * hour
    milliampereHour = milliampere * hour
    electronvolt = electron_volt
    megaelectronvolt = megaelectron_volt
    joule = joule
    kilojoule = kilojoule
    megajoule = megajoule
    gigajoule = gigajoule
    wattHour = watt * hour
    milliwattHour = milliwatt * hour
    kilowattHour = kilowatt * hour
    megawattHour = megawatt * hour
    gigawattHour = gigawatt * hour
    terawattHour = terawatt * hour
    britishThermalUnit = british_thermal_unit
    kiloBritishThermalUnit = kilobritish_thermal_unit
    newton = newton
    ounce = force_ounce
    pound = force_pound
    ton = force_ton
    millihertz = millihertz
    hertz = hertz
    kilohertz = kilohertz
    megahertz = megahertz
    gigahertz = gigahertz
    footcandle = footcandle
    lux = lux
    henry = henry
    microhenry = microhenry
    millihenry = millihenry
    candelaPerSquareMetre = candela / meter ** 2
    microwatt = microwatt
    milliwatt = milliwatt
    watt = watt
    kilowatt = kilowatt
    megawatt = megawatt
    gigawatt = gigawatt
    horsepower = horsepower
    kilowattHourPerYear = kilowatt * hour / year
    joulePerSecond = joule / second
    kilojoulePerSecond = kilojoule / second
    joulePerHour = joule / hour
    kilojoulePerHour = kilojoule / hour
    megajoulePerHour = megajoule / hour
    gigajoulePerHour = gigajoule / hour
    britishThermalUnitPerHour = british_thermal_unit / hour
    kiloBritishThermalUnitPerHour = kilobritish_thermal_unit / hour
    tonOfRefrigeration = refrigeration_ton
    lumen = lumen
    candela = candela
    weber = weber
    maxwell = maxwell_si
    tesla = tesla
    gauss = gauss_si
    microgram = microgram
    milligram = milligram
    gram = gram
    kilogram = kilogram
    tonne = metric_ton
    slug = slug
    massPound = pound
    gramPerHour = gram / hour
    gramPerSecond = gram / second
    kilogramPerHour = kilogram / hour
    kilogramPerSecond = kilogram / second
    massPoundPerHour = pound / hour
    pascal = pascal
    decapascal = decapascal
    hectopascal = hectopascal
    kilopascal = kilopascal
    millibar = millibar
    bar = bar
    poundPerSquareInch = psi
    inchesOfMercury = inch_Hg
    inchesOfWater = inch_H2O
    millimetresOfMercury = millimeter_Hg
    unity = dimensionless
    percent = percent
    partsPerMillion = parts_per_million
    partsPerBillion = parts_per_billion
    partsPerTrillion = parts_per_trillion
    partsPerQuadrillion = parts_per_quadrillion
    milliohm = milliohm
    ohm = ohm
    kiloohm = kiloohm
    megaohm = megaohm
    bel = bel{_SPL}
    decibel = decibel{_SPL}
    degreeCelsius = degree_Celsius
    degreeFahrenheit = degree_Fahrenheit
    kelvin = kelvin
    nanosecond = nanosecond
    microsecond = microsecond
    millisecond = millisecond
    second = second
    minute = minute
    hour = hour
    day = day
    year = year
    newtonMetre = newton * meter
    centimetrePerSecond = centimeter / second
    metrePerSecond = meter / second
    metrePerHour = meter / hour
    kilometrePerHour = kilometer / hour
    kilometrePerSecond = kilometer / second
    knot = knot
    milePerHour = mile / hour
    milePerSecond = mile / second
    millilitre = milliliter
    litre = liter
    cubicCentimetre = centimeter ** 3
    cubicInch = inch ** 3
    cubicFoot = foot ** 3
    cubicMetre = meter ** 3
    fluidOunce = fluid_ounce
    gallon = gallon
    millilitrePerSecond = milliliter / second
    millilitrePerMinute = milliliter / minute
    millilitrePerHour = milliliter / hour
    litrePerSecond = liter / second
    litrePerMinute = liter / minute
    litrePerHour = liter / hour
    cubicMetrePerSecond = meter ** 3 / second
    cubicMetrePerMinute = meter ** 3 / minute
    cubicMetrePerHour = meter ** 3 / hour
    cubicFootPerMinute = foot ** 3 / minute
    gallonPerMinute = gallon / minute
    gallonPerHour = gallon / hour
    voltAmpereHour = volt_ampere_apparent * hour
    kilovoltAmpereHour = kilovolt_ampere_apparent * hour
    megavoltAmpereHour = megavolt_ampere_apparent * hour
    gigavoltAmpereHour = gigavolt_ampere_apparent * hour
    millivoltAmpere = millivolt_ampere_apparent
    voltAmpere = volt_ampere_apparent
    kilovoltAmpere = kilovolt_ampere_apparent
    megavoltAmpere = megavolt_ampere_apparent
    gigavoltAmpere = gigavolt_ampere_apparent
    voltAmpereReactiveHour = volt_ampere_reactive * hour
    kilovoltAmpereReactiveHour = kilovolt_ampere_reactive * hour
    megavoltAmpereReactiveHour = megavolt_ampere_reactive * hour
    gigavoltAmpereReactiveHour = gigavolt_ampere_reactive * hour
    millivoltAmpereReactive = millivolt_ampere_reactive
    voltAmpereReactive = volt_ampere_reactive
    kilovoltAmpereReactive = kilovolt_ampere_reactive
    megavoltAmpereReactive = megavolt_ampere_reactive
    gigavoltAmpereReactive = gigavolt_ampere_reactive
    microgray = microgray
    milligray = milligray
    gray = gray
    microsievert = micro{_SV}
    millisievert = milli{_SV}
    sievert = {_SV}
    becquerel = becquerel
    kilobecquerel = kilobecquerel
    megabecquerel = megabecquerel
    gigabecquerel = gigabecquerel
    volt = volt
    microvolt = microvolt
    millivolt = millivolt
    kilovolt = kilovolt
    megavolt = megavolt
    wattPerSquareMetre = watt / meter ** 2
    """
)

DTDL_UNITS: Final[Mapping[str, str]] = MappingProxyType(_DTDL)
"""DTDL unit name -> the pint expression it stands for."""

# Source spellings that need a fixed meaning, matched exactly (after removing whitespace).
_EXACT_ALIASES: Final[Mapping[str, str]] = {
    "MVA": "megavolt_ampere_apparent",
    "GVA": "gigavolt_ampere_apparent",
    "mVA": "millivolt_ampere_apparent",
    "MVAh": "megavolt_ampere_apparent * hour",
    "GVAh": "gigavolt_ampere_apparent * hour",
    "Mvar": "megavolt_ampere_reactive",
    "MVAr": "megavolt_ampere_reactive",
    "MVAR": "megavolt_ampere_reactive",
    "Gvar": "gigavolt_ampere_reactive",
    "mvar": "millivolt_ampere_reactive",
    "Mvarh": "megavolt_ampere_reactive * hour",
    "Gvarh": "gigavolt_ampere_reactive * hour",
    "Sv": _SV,
    "mSv": f"milli{_SV}",
    "µSv": f"micro{_SV}",
    "μSv": f"micro{_SV}",
    "uSv": f"micro{_SV}",
    "gn": "standard_gravity",
    "g0": "standard_gravity",
    "g_n": "standard_gravity",
}

# Spellings that mean different units depending on what the target measures. The first
# candidate is the meaning without a target (or when no candidate fits the target).
_AMBIGUOUS: Final[Mapping[str, tuple[str, ...]]] = {
    "g": ("gram", "standard_gravity"),
    "G": ("gauss_si", "standard_gravity"),
    "C": ("coulomb", "degree_Celsius"),
    "F": ("farad", "degree_Fahrenheit"),
}

# Spellings matched case-insensitively: only those with a single sensible meaning in any case.
_CASELESS_ALIASES = {
    # pressure
    "psi": "psi",
    "pa": "pascal",
    "hpa": "hectopascal",
    "kpa": "kilopascal",
    "mbar": "millibar",
    "bar": "bar",
    "inhg": "inch_Hg",
    "inh2o": "inch_H2O",
    "mmhg": "millimeter_Hg",
    # volume flow
    "gpm": "gallon / minute",
    "usgpm": "gallon / minute",
    "gal/min": "gallon / minute",
    "gph": "gallon / hour",
    "gal/h": "gallon / hour",
    "gal/hr": "gallon / hour",
    "lpm": "liter / minute",
    "l/min": "liter / minute",
    "lph": "liter / hour",
    "l/h": "liter / hour",
    "l/hr": "liter / hour",
    "lps": "liter / second",
    "l/s": "liter / second",
    "ml/min": "milliliter / minute",
    "ml/h": "milliliter / hour",
    "ml/s": "milliliter / second",
    "m^3/h": "meter ** 3 / hour",
    "m3/h": "meter ** 3 / hour",
    "m^3/hr": "meter ** 3 / hour",
    "m3/hr": "meter ** 3 / hour",
    "cmh": "meter ** 3 / hour",
    "m^3/min": "meter ** 3 / minute",
    "m3/min": "meter ** 3 / minute",
    "m^3/s": "meter ** 3 / second",
    "m3/s": "meter ** 3 / second",
    "cfm": "foot ** 3 / minute",
    "ft^3/min": "foot ** 3 / minute",
    "ft3/min": "foot ** 3 / minute",
    # temperature
    "°c": "degree_Celsius",
    "degc": "degree_Celsius",
    "deg.c": "degree_Celsius",
    "celsius": "degree_Celsius",
    "degreescelsius": "degree_Celsius",
    "°f": "degree_Fahrenheit",
    "degf": "degree_Fahrenheit",
    "deg.f": "degree_Fahrenheit",
    "fahrenheit": "degree_Fahrenheit",
    "degreesfahrenheit": "degree_Fahrenheit",
    "kelvins": "kelvin",
    # rotation and acceleration
    "rpm": "revolution / minute",
    "r/min": "revolution / minute",
    "rev/min": "revolution / minute",
    "rps": "revolution / second",
    "rev/s": "revolution / second",
    "rad/s": "radian / second",
    "deg/s": "degree / second",
    "°/s": "degree / second",
    "gforce": "standard_gravity",
    "g-force": "standard_gravity",
    "m/s^2": "meter / second ** 2",
    "m/s2": "meter / second ** 2",
    "m/s/s": "meter / second ** 2",
    # velocity and length
    "m/s": "meter / second",
    "mm/s": "millimeter / second",
    "in/s": "inch / second",
    "ips": "inch / second",
    "ft/s": "foot / second",
    "km/h": "kilometer / hour",
    "kph": "kilometer / hour",
    "kmh": "kilometer / hour",
    "mph": "mile / hour",
    "knots": "knot",
    "mm": "millimeter",
    "cm": "centimeter",
    "km": "kilometer",
    "ft": "foot",
    "um": "micrometer",
    "µm": "micrometer",
    "micron": "micrometer",
    "microns": "micrometer",
    # electrical
    "amp": "ampere",
    "amps": "ampere",
    "amperes": "ampere",
    "v": "volt",
    "volts": "volt",
    "kv": "kilovolt",
    "w": "watt",
    "watts": "watt",
    "kw": "kilowatt",
    "hp": "horsepower",
    "wh": "watt * hour",
    "kwh": "kilowatt * hour",
    "va": "volt_ampere_apparent",
    "kva": "kilovolt_ampere_apparent",
    "vah": "volt_ampere_apparent * hour",
    "kvah": "kilovolt_ampere_apparent * hour",
    "var": "volt_ampere_reactive",
    "kvar": "kilovolt_ampere_reactive",
    "varh": "volt_ampere_reactive * hour",
    "kvarh": "kilovolt_ampere_reactive * hour",
    "hz": "hertz",
    "khz": "kilohertz",
    "ohms": "ohm",
    # energy and power
    "btu": "british_thermal_unit",
    "kbtu": "kilobritish_thermal_unit",
    "btu/h": "british_thermal_unit / hour",
    "btu/hr": "british_thermal_unit / hour",
    "btuh": "british_thermal_unit / hour",
    "kbtu/h": "kilobritish_thermal_unit / hour",
    "kbtu/hr": "kilobritish_thermal_unit / hour",
    # mass and mass flow
    "kg": "kilogram",
    "lb": "pound",
    "lbs": "pound",
    "kg/h": "kilogram / hour",
    "kg/hr": "kilogram / hour",
    "kg/s": "kilogram / second",
    "lb/h": "pound / hour",
    "lb/hr": "pound / hour",
    # time
    "sec": "second",
    "secs": "second",
    "seconds": "second",
    "hr": "hour",
    "hrs": "hour",
    "hours": "hour",
    # dimensionless
    "%": "percent",
    "pct": "percent",
    "%rh": "percent",
    "ppm": "parts_per_million",
    "ppb": "parts_per_billion",
    "ppt": "parts_per_trillion",
    "ppq": "parts_per_quadrillion",
    "1": "dimensionless",
    "dimensionless": "dimensionless",
    # sound pressure level, magnetism
    "db": f"decibel{_SPL}",
    "dbspl": f"decibel{_SPL}",
    "db(spl)": f"decibel{_SPL}",
    "decibels": f"decibel{_SPL}",
    "gauss": "gauss_si",
    "mx": "maxwell_si",
}
_CASELESS_ALIASES.update({name.casefold(): expression for name, expression in _DTDL.items()})
CASELESS_ALIASES: Final[Mapping[str, str]] = MappingProxyType(_CASELESS_ALIASES)
"""Case-insensitive source spellings (keys casefolded, whitespace removed) -> pint expression."""

_MAX_UNIT_TEXT = 100
_CACHE_LIMIT = 4096
_LINEARITY_PROBE = 1000
_WHITESPACE = re.compile(r"\s+")
_TEXT_FIXES = str.maketrans({"²": "^2", "³": "^3", "º": "°", "℃": "°C", "℉": "°F"})


@dataclass(frozen=True, slots=True)
class Affine:
    """A cached conversion: ``target = value * scale + offset``."""

    scale: float
    offset: float

    def apply(self, value: float) -> float:
        """The converted value (not checked for finiteness)."""
        return value * self.scale + self.offset


_IDENTITY: Final = Affine(1.0, 0.0)


@dataclass(frozen=True, slots=True)
class _Failure:
    """A cached refusal: why a (source, target) pair cannot be converted."""

    rule: str
    message: str
    value: Any


Registry = pint.UnitRegistry[Any]


@functools.cache
def _registry() -> Registry:
    """The one shared pint registry (exact rational arithmetic), with twinops' definitions."""
    registry: Registry = pint.UnitRegistry(non_int_type=Fraction, on_redefinition="raise")
    for definition in _DEFINITIONS:
        registry.define(definition)
    return registry


def _numpy() -> Any:
    """NumPy when it is installed, else None (the pure-Python path is used)."""
    try:
        return importlib.import_module("numpy")
    except ImportError:
        return None


def _unit_error(rule: str, message: str, value: Any) -> InvalidInput:
    return InvalidInput.single("unit", rule, message, value)


def _not_finite(field: str, source: str | None, target: str | None, value: Any) -> Violation:
    where = f" converting {source} to {target}" if source is not None and target else ""
    return Violation(field, "finite", f"value is not a finite number{where}", value)


class UnitConverter:
    """Parses DTDL and source units with one pint registry and converts via cached affine maps."""

    def __init__(self, registry: Registry | None = None) -> None:
        self._ureg = registry if registry is not None else _registry()
        self._lock = threading.Lock()
        self._maps: dict[tuple[str | None, str | None], Affine | _Failure] = {}

    @property
    def registry(self) -> Registry:
        """The pint registry this converter parses with."""
        return self._ureg

    # -- parsing ---------------------------------------------------------------------------

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - converters live as long as the process
    def _parse(self, expression: str) -> pint.Unit:
        return self._ureg.parse_units(expression)

    @functools.lru_cache(maxsize=1024)  # noqa: B019
    def _root(self, unit: pint.Unit) -> pint.Unit:
        return self._ureg.get_root_units(unit)[1]

    def compatible(self, first: pint.Unit, second: pint.Unit) -> bool:
        """True when both units reduce to the same root units (angles and bits count)."""
        return bool(self._root(first) == self._root(second))

    def canonical(self, dtdl_unit: str) -> pint.Unit:
        """The pint unit of a DTDL unit name (exact spelling, e.g. ``kilopascal``)."""
        expression = _DTDL.get(dtdl_unit) if isinstance(dtdl_unit, str) else None
        if expression is None:
            raise _unit_error("unknownUnit", f"{dtdl_unit!r} is not a DTDL unit", dtdl_unit)
        return self._parse(expression)

    def parse_source_unit(self, text: str, target: pint.Unit | None = None) -> pint.Unit:
        """The pint unit a source's spelling means; ``target`` settles ``g``/``G``/``C``/``F``."""
        if not isinstance(text, str) or not text.strip() or len(text) > _MAX_UNIT_TEXT:
            raise _unit_error("unknownUnit", f"{text!r} is not a known unit", text)
        stripped = text.strip().translate(_TEXT_FIXES)
        key = _WHITESPACE.sub("", stripped)
        expression = _DTDL.get(key) or _EXACT_ALIASES.get(key)
        if expression is None and key in _AMBIGUOUS:
            expression = self._disambiguate(_AMBIGUOUS[key], target)
        if expression is None:
            expression = _CASELESS_ALIASES.get(key.casefold())
        if expression is not None:
            return self._parse(expression)
        try:
            return self._parse(stripped)
        except Exception as exc:  # pint raises many types (syntax, undefined, assertion)
            raise _unit_error("unknownUnit", f"{text!r} is not a known unit", text) from exc

    def _disambiguate(self, candidates: tuple[str, ...], target: pint.Unit | None) -> str:
        if target is not None:
            for candidate in candidates:
                if self.compatible(self._parse(candidate), target):
                    return candidate
        return candidates[0]

    # -- conversion ------------------------------------------------------------------------

    def affine(self, source_unit: str | None, dtdl_unit: str | None) -> Affine:
        """The cached ``(scale, offset)`` from a source unit to a DTDL unit; raises InvalidInput."""
        key = (source_unit, dtdl_unit)
        try:
            found = self._maps.get(key)
        except TypeError:  # an unhashable "unit" from a decoded payload
            raise _unit_error("unknownUnit", f"{source_unit!r} is not a known unit", None) from None
        if found is None:
            with self._lock:
                found = self._maps.get(key)
                if found is None:
                    found = self._build(source_unit, dtdl_unit)
                    if len(self._maps) >= _CACHE_LIMIT:
                        self._maps.clear()
                    self._maps[key] = found
        if isinstance(found, _Failure):
            raise _unit_error(found.rule, found.message, found.value)
        return found

    def _build(self, source_unit: str | None, dtdl_unit: str | None) -> Affine | _Failure:
        try:
            return self._derive(source_unit, dtdl_unit)
        except InvalidInput as exc:
            violation = exc.violations[0]
            value = violation.value if violation.has_value else None
            return _Failure(violation.rule, violation.message, value)

    def _derive(self, source_unit: str | None, dtdl_unit: str | None) -> Affine:
        if dtdl_unit is None:
            if source_unit is None:
                return _IDENTITY
            unit = self.parse_source_unit(source_unit)
            factor, root = self._ureg.get_root_units(unit)
            if factor == 1 and root == self._parse("dimensionless"):
                return _IDENTITY
            message = f"{source_unit} cannot be converted: the field has no unit"
            raise _unit_error("incompatibleUnit", message, source_unit)
        target = self.canonical(dtdl_unit)
        if source_unit is None or source_unit == dtdl_unit:
            return _IDENTITY
        source = self.parse_source_unit(source_unit, target)
        incompatible = _unit_error(
            "incompatibleUnit", f"{source_unit} cannot be converted to {dtdl_unit}", source_unit
        )
        if not self.compatible(source, target):
            raise incompatible
        try:
            # Exact (rational) arithmetic, rounded once: the scale is the ratio of the root-unit
            # factors (for offset units, the degree sizes), pint supplies the offset, and two
            # probes prove the map really is affine.
            scale = float(self._root_factor(source) / self._root_factor(target))
            offset = self._magnitude(0, source, target)
            probes = [(x, self._magnitude(x, source, target)) for x in (1, _LINEARITY_PROBE)]
        except (pint.PintError, ArithmeticError, ValueError, TypeError) as exc:
            raise incompatible from exc
        found = Affine(scale, offset)
        if not (
            math.isfinite(scale)
            and math.isfinite(offset)
            and scale != 0.0
            and all(math.isclose(found.apply(x), y, rel_tol=1e-9, abs_tol=1e-9) for x, y in probes)
        ):
            raise incompatible  # e.g. a logarithmic unit that slipped through pint's parser
        return found

    def _root_factor(self, unit: pint.Unit) -> Fraction:
        factor: Any = self._ureg.get_root_units(unit)[0]
        return Fraction(factor)

    def _magnitude(self, value: int, source: pint.Unit, target: pint.Unit) -> float:
        magnitude: Any = self._ureg.Quantity(Fraction(value), source).to(target).magnitude
        return float(magnitude)

    def conversion(self, source_unit: str | None, dtdl_unit: str | None) -> Affine | None:
        """The map :meth:`convert` applies to numbers; None: it returns them unchanged.

        Raises InvalidInput exactly when :meth:`convert` would for every number, so a caller
        may apply the map itself: ``value * scale + offset``, then reject non-finite results.
        """
        found = self.affine(source_unit, dtdl_unit)  # also checks a target with no source
        # Identity means "no arithmetic" (-0.0 stays -0.0), not "times 1.0 plus 0.0".
        return None if found is _IDENTITY else found

    def convert(self, value: float, source_unit: str | None, dtdl_unit: str | None) -> float:
        """``value`` in ``source_unit`` expressed in the DTDL unit; None source means canonical."""
        if source_unit is None:
            if dtdl_unit is not None:
                self.affine(None, dtdl_unit)  # the target must still be a DTDL unit
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidInput.of([_not_finite("value", None, dtdl_unit, value)])
            return value
        found = self.affine(source_unit, dtdl_unit)
        if isinstance(value, bool) or not isinstance(value, int | float):
            message = f"a value in {source_unit} must be a number"
            raise InvalidInput.single("value", "type", message, value)
        try:
            result = value if found is _IDENTITY else value * found.scale + found.offset
        except OverflowError:  # an int too large for a float
            result = math.inf
        if not math.isfinite(result):
            raise InvalidInput.of([_not_finite("value", source_unit, dtdl_unit, value)])
        return result

    def convert_many(
        self, values: Iterable[float], source_unit: str | None, dtdl_unit: str | None
    ) -> list[float]:
        """Convert a batch (vectorized with NumPy when installed); bad items are named by index."""
        items = values if isinstance(values, list) else list(values)
        both_none = source_unit is None and dtdl_unit is None
        found = _IDENTITY if both_none else self.affine(source_unit, dtdl_unit)
        numpy = _numpy()
        if numpy is not None and items:
            array = numpy.asarray(items)
            if array.ndim == 1 and array.dtype.kind in "iuf":
                if found is not _IDENTITY:
                    array = array.astype(numpy.float64) * found.scale + found.offset
                if array.dtype.kind != "f" or bool(numpy.isfinite(array).all()):
                    result: list[float] = array.tolist()
                    return result
        out: list[float] = []
        bad: list[Violation] = []
        for index, value in enumerate(items):
            try:
                out.append(self.convert(value, source_unit, dtdl_unit))
            except InvalidInput as exc:
                first = exc.violations[0]
                bad.append(Violation(f"/{index}", first.rule, first.message, value))
        if bad:
            raise InvalidInput.of(bad)
        return out


@functools.cache
def default_converter() -> UnitConverter:
    """The process-wide converter (one registry, one conversion cache)."""
    return UnitConverter()


def canonical(dtdl_unit: str) -> pint.Unit:
    """The pint unit of a DTDL unit name, using the default converter."""
    return default_converter().canonical(dtdl_unit)


def parse_source_unit(text: str, target: pint.Unit | None = None) -> pint.Unit:
    """The pint unit a source's spelling means, using the default converter."""
    return default_converter().parse_source_unit(text, target)


def conversion(source_unit: str | None, dtdl_unit: str | None) -> Affine | None:
    """The map ``convert`` applies to numbers (None: unchanged), using the default converter."""
    return default_converter().conversion(source_unit, dtdl_unit)


def convert(value: float, source_unit: str | None, dtdl_unit: str | None) -> float:
    """``value`` in ``source_unit`` expressed in the DTDL unit, using the default converter."""
    return default_converter().convert(value, source_unit, dtdl_unit)


def convert_many(
    values: Iterable[float], source_unit: str | None, dtdl_unit: str | None
) -> list[float]:
    """Convert a batch of values, using the default converter."""
    return default_converter().convert_many(values, source_unit, dtdl_unit)
