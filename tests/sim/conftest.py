"""Fixtures for the simulation tests: the example FMUs (FMI 2.0 and 3.0), built from sources."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

FMU_SOURCES = Path(__file__).resolve().parents[2] / "examples" / "pump_fleet" / "fmu"

# FMI version -> (source folder, model identifier); the two FMUs compute the same thing.
BEARING_FMUS = {
    "2.0": ("BearingTemperature", "BearingTemperature"),
    "3.0": ("BearingTemperature3", "BearingTemperature3"),
}


def build_fmu(root: Path, fmi_version: str) -> Path:
    """Compile an example FMU with gcc and zip it; answer the .fmu file."""
    import fmpy

    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the example FMUs")
    folder, identifier = BEARING_FMUS[fmi_version]
    source = FMU_SOURCES / folder
    build = root / folder
    # FMI 2.0 names binary folders by platform (linux64), FMI 3.0 by platform tuple.
    platform = fmpy.platform if fmi_version == "2.0" else fmpy.platform_tuple
    binaries = build / "binaries" / platform
    binaries.mkdir(parents=True)
    shutil.copy(source / "modelDescription.xml", build / "modelDescription.xml")
    shutil.copytree(source / "sources", build / "sources")
    headers = Path(fmpy.__file__).parent / "c-code"
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-O2",
            "-Wall",
            "-Werror",
            f"-I{headers}",
            *sorted(str(path) for path in (build / "sources").glob("*.c")),
            "-lm",
            "-o",
            str(binaries / f"{identifier}{fmpy.sharedLibraryExtension}"),
        ],
        check=True,
    )
    fmu = root / f"{folder}.fmu"
    with zipfile.ZipFile(fmu, "w") as archive:
        for path in sorted(build.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(build).as_posix())
    return fmu


@pytest.fixture(scope="session", params=sorted(BEARING_FMUS), ids=lambda v: f"fmi{v[0]}")
def bearing_fmu(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example bearing FMU in each FMI version, compiled into a temporary folder."""
    return build_fmu(tmp_path_factory.mktemp("fmu"), request.param)
