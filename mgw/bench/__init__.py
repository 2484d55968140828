"""ANN benchmark harness: datasets (HDF5, ann-benchmarks format), timing, metrics, plots.

Reusable pieces: `datasets.load_dataset`, `metrics.recall_at_k`, `runner.measure_qps`,
`runner.get_or_build` (index build cache), `runner.run_benchmark` (what `mgw bench` calls)."""
