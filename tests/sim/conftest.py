"""Fixtures for the simulation tests: the example FMU, built from its sources."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

FMU_SOURCE = (
    Path(__file__).resolve().parents[2] / "examples" / "pump_fleet" / "fmu" / "BearingTemperature"
)


@pytest.fixture(scope="session")
def bearing_fmu(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example bearing FMU, compiled with gcc from its sources into a temporary folder."""
    import fmpy

    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the example FMU")
    root = tmp_path_factory.mktemp("fmu")
    build = root / "BearingTemperature"
    binaries = build / "binaries" / fmpy.platform
    binaries.mkdir(parents=True)
    (build / "sources").mkdir()
    shutil.copy(FMU_SOURCE / "modelDescription.xml", build / "modelDescription.xml")
    shutil.copy(FMU_SOURCE / "sources" / "model.c", build / "sources" / "model.c")
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
            str(build / "sources" / "model.c"),
            "-lm",
            "-o",
            str(binaries / f"BearingTemperature{fmpy.sharedLibraryExtension}"),
        ],
        check=True,
    )
    fmu = root / "BearingTemperature.fmu"
    with zipfile.ZipFile(fmu, "w") as archive:
        for path in sorted(build.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(build).as_posix())
    return fmu
