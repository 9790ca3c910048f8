"""Semantic types and units: built into DTDL v2, the quantitativeTypes extension in v3."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


def _table(text: str) -> dict[str, frozenset[str]]:
    rows: dict[str, frozenset[str]] = {}
    for line in text.strip().splitlines():
        head, _, tail = line.partition(":")
        rows[head.strip()] = frozenset(tail.split())
    return rows


_UNITS_V2 = _table(
    """
    AccelerationUnit: centimetrePerSecondSquared gForce metrePerSecondSquared
    AngleUnit: degreeOfArc minuteOfArc radian secondOfArc turn
    AngularAccelerationUnit: radianPerSecondSquared
    AngularVelocityUnit: degreePerSecond radianPerSecond revolutionPerMinute revolutionPerSecond
    AreaUnit: acre hectare squareCentimetre squareFoot squareInch squareKilometre squareMetre
      squareMillimetre
    CapacitanceUnit: farad microfarad millifarad nanofarad picofarad
    CurrentUnit: ampere microampere milliampere
    DataRateUnit: bitPerSecond bytePerSecond exbibitPerSecond exbibytePerSecond gibibitPerSecond
      gibibytePerSecond kibibitPerSecond kibibytePerSecond mebibitPerSecond mebibytePerSecond
      tebibitPerSecond tebibytePerSecond yobibitPerSecond yobibytePerSecond zebibitPerSecond
      zebibytePerSecond
    DataSizeUnit: bit byte exbibit exbibyte gibibit gibibyte kibibit kibibyte mebibit mebibyte
      tebibit tebibyte yobibit yobibyte zebibit zebibyte
    DensityUnit: gramPerCubicMetre kilogramPerCubicMetre
    LengthUnit: astronomicalUnit centimetre foot inch kilometre metre micrometre mile millimetre
      nanometre nauticalMile
    ChargeUnit: coulomb
    EnergyUnit: electronvolt gigajoule joule kilojoule kilowattHour megaelectronvolt megajoule
    ForceUnit: newton ounce pound ton
    FrequencyUnit: gigahertz hertz kilohertz megahertz
    IlluminanceUnit: footcandle lux
    InductanceUnit: henry microhenry millihenry
    LuminanceUnit: candelaPerSquareMetre
    PowerUnit: gigawatt horsepower kilowatt kilowattHourPerYear megawatt microwatt milliwatt watt
    LuminousFluxUnit: lumen
    LuminousIntensityUnit: candela
    MagneticFluxUnit: maxwell weber
    MagneticInductionUnit: tesla
    MassUnit: gram kilogram microgram milligram slug tonne
    MassFlowRateUnit: gramPerHour gramPerSecond kilogramPerHour kilogramPerSecond
    PressureUnit: bar inchesOfMercury inchesOfWater kilopascal millibar millimetresOfMercury pascal
      poundPerSquareInch
    Unitless: percent unity
    ResistanceUnit: kiloohm megaohm milliohm ohm
    SoundPressureUnit: bel decibel
    TemperatureUnit: degreeCelsius degreeFahrenheit kelvin
    TimeUnit: day hour microsecond millisecond minute nanosecond second year
    TorqueUnit: newtonMetre
    VelocityUnit: centimetrePerSecond kilometrePerHour kilometrePerSecond knot metrePerHour
      metrePerSecond milePerHour milePerSecond
    VoltageUnit: kilovolt megavolt microvolt millivolt volt
    VolumeUnit: cubicCentimetre cubicFoot cubicInch cubicMetre fluidOunce gallon litre millilitre
    VolumeFlowRateUnit: litrePerHour litrePerSecond millilitrePerHour millilitrePerSecond
    """.replace("\n      ", " ")
)

# Units the quantitativeTypes extension (v3) adds to the v2 unit types, plus its new unit types.
_UNITS_V3_EXTRA = _table(
    """
    ApparentEnergyUnit: gigavoltAmpereHour kilovoltAmpereHour megavoltAmpereHour voltAmpereHour
    ApparentPowerUnit: gigavoltAmpere kilovoltAmpere megavoltAmpere millivoltAmpere voltAmpere
    Unitless: partsPerBillion partsPerMillion partsPerQuadrillion partsPerTrillion
    CurrentUnit: kiloampere
    DensityUnit: microgramPerCubicMetre milligramPerCubicMetre
    ChargeUnit: ampereHour milliampereHour
    EnergyUnit: britishThermalUnit gigawattHour kiloBritishThermalUnit megawattHour milliwattHour
      terawattHour wattHour
    PowerUnit: britishThermalUnitPerHour gigajoulePerHour joulePerHour joulePerSecond
      kiloBritishThermalUnitPerHour kilojoulePerHour kilojoulePerSecond megajoulePerHour
      tonOfRefrigeration
    FrequencyUnit: millihertz
    IonizingRadiationDoseUnit: gray microgray microsievert milligray millisievert sievert
    IrradianceUnit: wattPerSquareMetre
    MagneticInductionUnit: gauss
    MassUnit: massPound
    MassFlowRateUnit: massPoundPerHour
    PressureUnit: decapascal hectopascal
    RadioactivityUnit: becquerel gigabecquerel kilobecquerel megabecquerel
    ReactiveEnergyUnit: gigavoltAmpereReactiveHour kilovoltAmpereReactiveHour
      megavoltAmpereReactiveHour voltAmpereReactiveHour
    ReactivePowerUnit: gigavoltAmpereReactive kilovoltAmpereReactive megavoltAmpereReactive
      millivoltAmpereReactive voltAmpereReactive
    VolumeFlowRateUnit: cubicFootPerMinute cubicMetrePerHour cubicMetrePerMinute
      cubicMetrePerSecond gallonPerHour gallonPerMinute litrePerMinute millilitrePerMinute
    """.replace("\n      ", " ")
)

_SEMANTIC_V2 = {
    "Acceleration": "AccelerationUnit",
    "Angle": "AngleUnit",
    "AngularAcceleration": "AngularAccelerationUnit",
    "AngularVelocity": "AngularVelocityUnit",
    "Area": "AreaUnit",
    "Capacitance": "CapacitanceUnit",
    "Current": "CurrentUnit",
    "DataRate": "DataRateUnit",
    "DataSize": "DataSizeUnit",
    "Density": "DensityUnit",
    "Distance": "LengthUnit",
    "ElectricCharge": "ChargeUnit",
    "Energy": "EnergyUnit",
    "Force": "ForceUnit",
    "Frequency": "FrequencyUnit",
    "Humidity": "DensityUnit",
    "Illuminance": "IlluminanceUnit",
    "Inductance": "InductanceUnit",
    "Latitude": "AngleUnit",
    "Length": "LengthUnit",
    "Longitude": "AngleUnit",
    "Luminance": "LuminanceUnit",
    "Luminosity": "PowerUnit",
    "LuminousFlux": "LuminousFluxUnit",
    "LuminousIntensity": "LuminousIntensityUnit",
    "MagneticFlux": "MagneticFluxUnit",
    "MagneticInduction": "MagneticInductionUnit",
    "Mass": "MassUnit",
    "MassFlowRate": "MassFlowRateUnit",
    "Power": "PowerUnit",
    "Pressure": "PressureUnit",
    "RelativeHumidity": "Unitless",
    "Resistance": "ResistanceUnit",
    "SoundPressure": "SoundPressureUnit",
    "Temperature": "TemperatureUnit",
    "Thrust": "ForceUnit",
    "TimeSpan": "TimeUnit",
    "Torque": "TorqueUnit",
    "Velocity": "VelocityUnit",
    "Voltage": "VoltageUnit",
    "Volume": "VolumeUnit",
    "VolumeFlowRate": "VolumeFlowRateUnit",
}
_SEMANTIC_V3 = {
    **_SEMANTIC_V2,
    "ApparentEnergy": "ApparentEnergyUnit",
    "ApparentPower": "ApparentPowerUnit",
    "Concentration": "Unitless",
    "EnergyRate": "PowerUnit",
    "IonizingRadiationDose": "IonizingRadiationDoseUnit",
    "Irradiance": "IrradianceUnit",
    "Radioactivity": "RadioactivityUnit",
    "ReactiveEnergy": "ReactiveEnergyUnit",
    "ReactivePower": "ReactivePowerUnit",
    "RelativeDensity": "Unitless",
}
_UNITS_V3 = {
    name: _UNITS_V2.get(name, frozenset()) | _UNITS_V3_EXTRA.get(name, frozenset())
    for name in set(_UNITS_V2) | set(_UNITS_V3_EXTRA)
}

UNIT_PREFIXES = frozenset(
    [
        "atto",
        "centi",
        "deci",
        "deka",
        "exa",
        "exbi",
        "femto",
        "gibi",
        "giga",
        "hecto",
        "kibi",
        "kilo",
        "mebi",
        "mega",
        "micro",
        "milli",
        "nano",
        "pebi",
        "peta",
        "pico",
        "tebi",
        "tera",
        "yobi",
        "yocto",
        "yotta",
        "zebi",
        "zepto",
        "zetta",
    ]
)


def semantic_units(version: int) -> Mapping[str, frozenset[str]]:
    """Semantic type term -> the unit terms it accepts, for a DTDL version."""
    semantic = _SEMANTIC_V2 if version <= 2 else _SEMANTIC_V3
    units = _UNITS_V2 if version <= 2 else _UNITS_V3
    return MappingProxyType({name: units[unit_type] for name, unit_type in semantic.items()})


def semantic_unit_type(version: int, semantic: str) -> str | None:
    """The unit type a semantic type's ``unit`` takes (e.g. Temperature -> TemperatureUnit)."""
    return (_SEMANTIC_V2 if version <= 2 else _SEMANTIC_V3).get(semantic)


def unit_types(version: int) -> Mapping[str, frozenset[str]]:
    """Unit type term -> unit terms, for a DTDL version."""
    return MappingProxyType(_UNITS_V2 if version <= 2 else _UNITS_V3)


def all_units(version: int) -> frozenset[str]:
    """Every unit term known in a DTDL version."""
    found: set[str] = set()
    for units in unit_types(version).values():
        found |= units
    return frozenset(found)
