"""Admission control: bounded bytes in flight, refusal (HTTP) or waiting (MQTT) beyond."""

from __future__ import annotations

import threading
import time

import pytest

from twinops.errors import Overloaded
from twinops.ingest.admission import AdmissionGate


def test_batches_are_admitted_while_they_fit_and_refused_beyond() -> None:
    gate = AdmissionGate(100, retry_after=2.0)
    with gate.admit(60), gate.admit(40):
        assert gate.in_flight == 100
        with pytest.raises(Overloaded) as refused, gate.admit(1):
            pass
        assert refused.value.retry_after == 2.0
    assert gate.in_flight == 0
    assert gate.rejected == 1


def test_a_batch_larger_than_the_limit_is_admitted_alone() -> None:
    gate = AdmissionGate(10)
    with gate.admit(500):
        assert gate.in_flight == 500


def test_a_waiting_source_proceeds_when_capacity_frees() -> None:
    gate = AdmissionGate(100)
    entered = threading.Event()

    def consumer() -> None:
        with gate.wait(80):
            entered.set()

    with gate.admit(50):
        thread = threading.Thread(target=consumer)
        thread.start()
        time.sleep(0.1)
        assert not entered.is_set()
    thread.join(5)
    assert entered.is_set()
    assert gate.in_flight == 0


def test_a_wait_with_a_timeout_gives_up_with_overloaded() -> None:
    gate = AdmissionGate(10)
    with gate.admit(10), pytest.raises(Overloaded), gate.wait(5, timeout=0.05):
        pass
