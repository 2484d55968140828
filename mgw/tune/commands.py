"""`mgw tune`: argparse wiring only; the work is in mgw.tune.run."""
from __future__ import annotations

import argparse

from mgw.argstyle import add_list_option
from mgw.config import load_params


def _space_item(text: str) -> tuple[str, list[int]]:
    name, _, values = text.partition("=")
    try:
        return name.strip(), [int(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--space wants NAME=v1,v2,... with integers, got {text!r}") from None


def register(sub) -> None:
    p = sub.add_parser("tune", help="Optuna multi-objective HNSW tuning (recall@10 vs measured QPS)",
                       description="Tune M / efConstruction / efSearch over hnswlib and faiss HNSW with a recall "
                                   "constraint. Several processes with the same --storage and --study share one study.")
    p.add_argument("--trials", type=int, help="trials this process adds (default: tune.trials; 0 = only summarize)")
    p.add_argument("--study", help="study name (default: tune.study)")
    p.add_argument("--storage", help="Optuna RDB URL (default: sqlite:///reports/optuna/<study>.db), "
                                     "e.g. postgresql://user:pw@host:5432/optuna")
    p.add_argument("--embeddings", help="embeddings .npy to tune on (default: tune.embeddings)")
    p.add_argument("--synthetic", action="store_true", help="tune on seeded synthetic vectors instead")
    add_list_option(p, "--backends", help="hnswlib faiss-hnsw-flat faiss-hnsw-sq8 (default: tune.backends)")
    p.add_argument("--space", action="append", type=_space_item, metavar="NAME=v1,v2",
                   help="replace one parameter's choices, e.g. --space efSearch=16,32,64 (repeatable)")
    p.add_argument("--sampler", choices=["nsga2", "tpe"])
    p.add_argument("--recall-target", type=float)
    p.add_argument("--queries", type=int, help="held-out queries (default: tune.queries)")
    p.add_argument("--memory", action="store_true", help="add bytes/vector as a third objective")
    p.add_argument("--worker", type=int, default=0, help="worker number: offsets the sampler seed (give each "
                                                         "process sharing a study its own)")
    p.add_argument("--no-decide", dest="decide", action="store_false",
                   help="only contribute trials; skip selection, confirmation and tune.json")
    p.add_argument("--apply", action="store_true", help="write the chosen config into params.yaml index:")
    p.add_argument("--metrics-dir", help="where tune.json goes (default: reports/metrics)")
    p.add_argument("-q", "--quiet", "--no-progress", dest="progress", action="store_false", help="no progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    from mgw.tune.run import run_and_report, summary_lines

    tune: dict = {}
    if args.backends:
        tune["backends"] = args.backends
    if args.space:
        base = load_params(args.params).tune.space
        tune["space"] = {**base, **dict(args.space)}
    for key, value in (("sampler", args.sampler), ("recall_target", args.recall_target),
                       ("queries", args.queries)):
        if value is not None:
            tune[key] = value
    if args.memory:
        tune["memory_objective"] = True
    params = load_params(args.params, overrides={"tune": tune} if tune else None)
    embeddings = None if args.synthetic else (args.embeddings or params.tune.embeddings)
    result = run_and_report(params, params_path=args.params, embeddings=embeddings, storage=args.storage or
                            params.tune.storage, study_name=args.study, trials=args.trials, worker=args.worker,
                            decide=args.decide, apply=args.apply or params.tune.apply,
                            metrics_dir=args.metrics_dir, progress=args.progress)
    for line in summary_lines(result):
        print(line)
    chosen = result.get("chosen")
    return 0 if (not args.decide or (chosen and chosen["meets_target"])) else 1
