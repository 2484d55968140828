"""Scale-out on Ray, an existing distributed engine: the same mgw functions, run as Ray work.

- `session.py`: one Ray session from `ray:` params (a local instance unless `ray.address` names a cluster).
- `embed.py`: batch embedding as a Ray Data `map_batches` job with model actors (each holds one `Embedder`).
- `bench.py`: benchmark cells, one (dataset, backend, build params) build + sweep per Ray task.
- `overhead.py`: both against the single-process path, interleaved: identity of results and the time ratio.
Ray is imported only inside these modules, so the rest of mgw never needs it.
"""
