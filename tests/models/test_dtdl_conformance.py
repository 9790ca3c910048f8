"""Runs every case of the DTDLParser conformance corpus and checks the classification accuracy.

Run as a script (``python tests/models/test_dtdl_conformance.py``) for the full failure table.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from twinops.models.dtdl import DtdlSource, parse_documents, parse_dtmi

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("TWINOPS_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
CORPUS = DATA_DIR / "dtdl" / "conformance"
FOLDERS = ("specification", "generated", "solecisms", "doc-examples")
REQUIRED_ACCURACY = 0.99
_UNSUPPORTED_LANGUAGE = re.compile(r"dtmi:dtdl:context;(?:[4-9]|1\d)")


@dataclass(frozen=True)
class Case:
    """One conformance case: where it came from and what it expects."""

    folder: str
    file: str
    index: int
    data: dict[str, Any]

    @property
    def version(self) -> str:
        """The DTDL version the case file targets (from its name)."""
        match = re.search(r"V(\d)\.json$", self.file)
        return f"v{match.group(1)}" if match else "v?"

    @property
    def group(self) -> str:
        """The spec statement or generated scenario, without version suffix."""
        return re.sub(r"V\d\.json$|\.json$", "", self.file)


@dataclass
class Outcome:
    """Counts of a corpus run."""

    total: int = 0
    passed: int = 0
    unsupported: int = 0
    failures: list[tuple[Case, str]] = field(default_factory=list)
    by_folder: Counter[str] = field(default_factory=Counter)
    by_folder_total: Counter[str] = field(default_factory=Counter)
    by_version: Counter[str] = field(default_factory=Counter)
    by_version_total: Counter[str] = field(default_factory=Counter)

    @property
    def accuracy(self) -> float:
        """Correctly classified cases over all cases (unsupported ones count as wrong)."""
        return self.passed / self.total if self.total else 0.0


def iter_cases() -> Iterator[Case]:
    """Every parsing case of the corpus (not the DTMI syntax ones)."""
    for folder in FOLDERS:
        for path in sorted((CORPUS / folder).glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            items = data if isinstance(data, list) else [data]
            for index, item in enumerate(items):
                yield Case(folder, path.name, index, item)


def _resolver(case: dict[str, Any]) -> Any:
    """A model store holding every document the case's (partial) resolution steps return.

    Partial resolution (asking for fragments of a DTMI) is served as whole-DTMI resolution.
    """
    store: dict[str, Any] = {}
    for key in ("resolution", "partialResolution"):
        for step in case.get(key, []) or []:
            for doc in step.get("response") or []:
                if isinstance(doc, dict) and isinstance(doc.get("@id"), str):
                    store[doc["@id"]] = doc
    return store.get if store else None


def _top_objects(documents: list[Any]) -> Iterator[Any]:
    for doc in documents:
        if isinstance(doc, list):
            yield from doc
        else:
            yield doc


def classify(case: Case) -> tuple[str, str]:
    """('pass' | 'fail' | 'unsupported', detail) for one case."""
    data = case.data
    top_contexts = [
        json.dumps(doc.get("@context"))
        for doc in _top_objects(data["input"])
        if isinstance(doc, dict)
    ]
    if any(_UNSUPPORTED_LANGUAGE.search(text) for text in top_contexts):
        return "unsupported", "DTDL v4 models (only v2 and v3 are implemented)"
    options = data.get("options", [])
    allow: bool | None = None
    if "DisallowUndefinedExtensions" in options:
        allow = False
    elif "AllowUndefinedExtensions" in options:
        allow = True
    sources = [DtdlSource(f"input[{i}]", obj=doc) for i, doc in enumerate(data["input"])]
    result = parse_documents(
        sources,
        resolver=_resolver(data),
        allow_undefined_extensions=allow,
        max_dtdl_version=int(data.get("maxDtdlVersion", 3)),
        tolerate_solecisms="TolerateSolecismsInParse" in (data.get("quirks") or []),
    )
    if result.unsupported_extensions:
        return "unsupported", ",".join(sorted(result.unsupported_extensions))
    predicted = result.ok
    if predicted == bool(data["valid"]):
        return "pass", ""
    if predicted:
        return "fail", "accepted an invalid model"
    first = result.problems[0]
    return "fail", f"rejected: {first.rule}: {first.message}"


def run_corpus() -> Outcome:
    """Classify every case and tally the outcome."""
    outcome = Outcome()
    for case in iter_cases():
        verdict, detail = classify(case)
        outcome.total += 1
        outcome.by_folder_total[case.folder] += 1
        outcome.by_version_total[case.version] += 1
        if verdict == "pass":
            outcome.passed += 1
            outcome.by_folder[case.folder] += 1
            outcome.by_version[case.version] += 1
        elif verdict == "unsupported":
            outcome.unsupported += 1
            outcome.failures.append((case, "unsupported: " + detail))
        else:
            outcome.failures.append((case, detail))
    return outcome


def failure_table(outcome: Outcome, limit: int = 60) -> str:
    """Failures grouped by expected verdict, spec statement (or scenario) and first rule."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for case, detail in outcome.failures:
        expected = "valid" if case.data["valid"] else "invalid"
        rule = detail.split(":")[0] if detail.startswith("unsupported") else detail[:70]
        statement = re.sub(
            r"Class[A-Z][A-Za-z]*?(Property|Type|Optional|Required)", r"X\1", case.group
        )
        groups[(expected, f"{case.folder}/{statement} | {rule}")].append(case.version)
    rows = sorted(groups.items(), key=lambda item: -len(item[1]))
    lines = [f"{'n':>4}  expected  group | first rule"]
    for (expected, label), versions in rows[:limit]:
        lines.append(
            f"{len(versions):>4}  {expected:<8}  {label}  [{','.join(sorted(set(versions)))}]"
        )
    return "\n".join(lines)


def summary(outcome: Outcome) -> str:
    """Accuracy overall, per folder and per version."""
    lines = [
        f"accuracy {outcome.accuracy:.4f} ({outcome.passed}/{outcome.total}), "
        f"unsupported {outcome.unsupported}, "
        f"accuracy on supported {outcome.passed / max(1, outcome.total - outcome.unsupported):.4f}"
    ]
    for folder, total in sorted(outcome.by_folder_total.items()):
        good = outcome.by_folder[folder]
        lines.append(f"  {folder:<14} {good / total:.4f} ({good}/{total})")
    for version, total in sorted(outcome.by_version_total.items()):
        good = outcome.by_version[version]
        lines.append(f"  {version:<14} {good / total:.4f} ({good}/{total})")
    return "\n".join(lines)


def test_conformance_corpus_is_present() -> None:
    # A missing corpus must fail the suite, not quietly skip the conformance checks.
    assert CORPUS.is_dir(), f"no conformance corpus at {CORPUS}; set TWINOPS_DATA_DIR"


def test_conformance_corpus_accuracy_is_at_least_99_percent() -> None:
    outcome = run_corpus()
    print(summary(outcome))
    print(failure_table(outcome))
    assert outcome.accuracy >= REQUIRED_ACCURACY, summary(outcome)


def _dtmi_cases() -> list[dict[str, Any]]:
    if not CORPUS.is_dir():
        return []
    return [
        json.loads(path.read_text(encoding="utf-8-sig"))
        for path in sorted((CORPUS / "dtmis").glob("*.json"))
    ]


@pytest.mark.parametrize("case", _dtmi_cases(), ids=lambda c: str(c["idText"])[:40])
def test_dtmi_syntax_case(case: dict[str, Any]) -> None:
    parsed = parse_dtmi(case["idText"])
    assert (parsed is not None) == case["valid"]
    if parsed is not None:
        expect = case["expect"]
        assert parsed.major_version == expect["MajorVersion"]
        assert parsed.minor_version == expect["MinorVersion"]
        assert parsed.complete_version == pytest.approx(expect["CompleteVersion"])
        assert parsed.versionless == expect["Versionless"]
        assert list(parsed.labels) == expect["Labels"]
        assert parsed.is_reserved == expect["IsReserved"]
        assert parsed.fragment == expect["Fragment"]


if __name__ == "__main__":
    result = run_corpus()
    print(summary(result))
    print(failure_table(result, limit=int(sys.argv[1]) if len(sys.argv) > 1 else 60))
