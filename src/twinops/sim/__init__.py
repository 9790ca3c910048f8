"""Simulation: behavior models, engines, scenarios and their runner.

The job system calls three functions, in order::

    spec = parse_spec(raw)                       # twinops.sim.scenario
    snapshot = take_snapshot(spec, tenant=..., twins=..., state=..., models=..., max_steps=...)
    output = run_scenario(spec, snapshot, progress)   # in a worker: no database

``output.tables`` are pyarrow tables (long format), ``output.summary`` is JSON, and
``output.model`` records the model's reference, version and code hash.
"""
