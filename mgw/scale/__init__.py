"""How cost grows with the catalog (`mgw scale`): every pipeline stage measured on seeded synthetic catalogs of
n titles, each (stage, n) in its own child process so peak memory is that stage's alone, then power-law fits
(exponent with a bootstrap CI) and where one machine ends (seed latency targets, the memory wall).

- `synth.py`: the inputs at n: simulated-source params for n titles, vectors from bench.datasets' generator
  fitted on real embeddings, a cheap token-hash stand-in embedder for resolution at scale.
- `child.py`: run one measurement in a fresh process: wall time, peak RSS of the stage.
- `stages.py`: one function per stage (ingest, resolve, embed, index + search, hypergraph, GAT, cache).
- `fit.py`: log–log OLS power law, bootstrap CI of the exponent, solving for n at a threshold.
- `limits.py`: the largest catalog one machine serves within the targets, per backend.
- `run.py`: the grid, the tables and `reports/metrics/scale.json`.
"""
