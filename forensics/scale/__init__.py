"""Ray Data for collections beyond one machine: the only code of the package that imports ray.

`ray_engine` (the pipeline: read, decode, analyse on workers, write results.parquet and the
exports), `plan` (how many workers a cluster can hold), `table` (the parquet schema).
Importing this package does not import ray; `ray_engine` does.
"""
