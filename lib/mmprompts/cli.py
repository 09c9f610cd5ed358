"""Command line: `python -m mmprompts {train,zeroshot,eval,runs,toy-data,book,sweep,tables} --help`."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Callable

import torch

from .data import DATASETS, load_dataset
from .data.fewshot import check_seeds
from .data.miniworld import MINI_TASKS
from .data.toy import TOY_CLASSES, make_toy_dataset
from .methods import METHODS, method_config, method_label
from .models import load_clip
from .inventory import STATUSES, find_run, list_runs, prune_reasons, remove_runs, run_details, runs_table, size_text
from .profiles import default_recipe
from .runs import cache_root, check_log_every, train_runs, zero_shot_run
from .storage import atomic_write_text
from .train import Recipe


def _model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", default="ViT-B-16-quickgelu",
                       help="open_clip model name, an open_clip config JSON, or 'mini-clip' (shipped, tag 'mini-world')")
    group.add_argument("--pretrained", default=None,
                       help="open_clip pretrained tag, e.g. 'openai' (the paper's weights); omit for random init")
    group.add_argument("--checkpoint", default=None, help="local weights file instead of --pretrained "
                       "(open_clip checkpoint or the original OpenAI TorchScript ViT-B-16.pt)")
    group.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                       help="torch device")
    group = parser.add_argument_group("data and output")
    group.add_argument("--dataset", nargs="+", required=True, choices=sorted(DATASETS) + list(MINI_TASKS), metavar="NAME",
                       help=f"one or more of: {', '.join(sorted(DATASETS))} (CoOp layout) or the mini-world tasks "
                            f"{', '.join(MINI_TASKS)} (generated on first use)")
    group.add_argument("--data-root", default=None, help="folder holding the CoOp-layout datasets "
                       "(default: $MMPROMPTS_DATA)")
    group.add_argument("--cache", default=None, help="run cache folder (default: $MMPROMPTS_CACHE or "
                       "~/.cache/mmprompts)")
    group.add_argument("--output", default=None, help="write the results as JSON here "
                       "(default: <cache>/results/<command>.json)")
    group.add_argument("--workers", type=int, default=None, help="data-loader workers (default: 0 on CPU, "
                       "up to 8 on CUDA)")
    group.add_argument("--quiet", action="store_true", help="no progress bars")


def _training_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("method (the paper's Table 1 'PROMPT' column is --method prompts "
                                      "--n-ctx 1 --depth 12; 'BIAS' is --method bias)")
    group.add_argument("--method", choices=METHODS, default="prompts",
                       help="prompts: deep independent V-L prompts (IVLP); shallow: input-level V-L prompts (depth 1); "
                            "text: CoOp (input-level text prompts); vision: VPT (vision prompts, --depth deep); "
                            "bias: bias tuning; attention: attention-bias tuning (a learned bias on every block's "
                            "attention scores, page 2's first-way-only known answer)")
    group.add_argument("--n-ctx", type=int, default=4, help="prompts per layer and branch")
    group.add_argument("--depth", type=int, default=12, help="blocks that receive prompts (1 = input only); "
                       "used by 'prompts' and 'vision'")
    group.add_argument("--recompute-text", action="store_true",
                       help="recompute text blocks in the backward pass: less memory with many classes (ImageNet), "
                            "same result")
    group.add_argument("--bias-layers", type=int, nargs="+", default=None,
                       help="blocks followed by a learnable bias (default: every block)")
    group = parser.add_argument_group("recipe (defaults: the recipe of the model's profile: the mini recipe for "
                                      "mini-clip, else the paper's; see mmprompts.profiles)")
    group.add_argument("--shots", type=int, default=16, help="training images per class")
    group.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="seeds; results are mean ± std")
    recipe, paper = default_recipe("mini-clip"), Recipe()
    for name, kind, text in (("epochs", int, "training epochs (the last one is evaluated)"),
                             ("batch_size", int, "training batch size"),
                             ("lr", float, "SGD learning rate after warm-up (cosine decay)"),
                             ("momentum", float, "SGD momentum"), ("weight_decay", float, "SGD weight decay"),
                             ("warmup_epochs", int, "constant warm-up epochs"),
                             ("warmup_lr", float, "learning rate during warm-up")):
        group.add_argument(f"--{name.replace('_', '-')}", type=kind, default=argparse.SUPPRESS,
                           help=f"{text} (default: the model's profile's: {getattr(paper, name)} for ViT-B/16, "
                                f"{getattr(recipe, name)} for mini-clip)")
    group.add_argument("--log-every", type=int, default=None, metavar="N",
                       help="print every N-th step of each run: loss, lr, norm of the learned tensors (every step "
                            "is written to the run's log.jsonl)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mmprompts", description=__doc__.split("\n")[0],
                                     formatter_class=_DefaultsFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    fmt = _DefaultsFormatter
    train = commands.add_parser("train", formatter_class=fmt,
                                help="few-shot training (cached), then test accuracy per seed")
    _model_options(train)
    _training_options(train)
    evaluate = commands.add_parser("eval", formatter_class=fmt,
                                   help="test accuracy of finished runs in the cache (never trains)")
    _model_options(evaluate)
    _training_options(evaluate)
    zeroshot = commands.add_parser("zeroshot", formatter_class=fmt,
                                   help="zero-shot CLIP test accuracy with each dataset's template")
    _model_options(zeroshot)
    runs = commands.add_parser("runs", formatter_class=fmt, help="list, show or prune the runs in the cache")
    runs.add_argument("action", nargs="?", default="list", choices=["list", "show", "prune"],
                      help="list: a table of the cached runs; show KEY: one run; prune: remove runs (a dry run "
                           "unless --delete)")
    runs.add_argument("key", nargs="?", default=None, help="with show: the run's key (a unique prefix is enough)")
    runs.add_argument("--cache", default=None, help="run cache folder (default: $MMPROMPTS_CACHE or ~/.cache/mmprompts)")
    runs.add_argument("--dataset", default=None, help="only the runs of this dataset")
    runs.add_argument("--status", default=None, choices=STATUSES, help="only the runs with this status")
    runs.add_argument("--older-trainer", action="store_true",
                      help="prune: runs of an older trainer version (they never match again)")
    runs.add_argument("--missing-data", action="store_true",
                      help="prune: runs whose data is gone or changed (read from --data-root; mini-world tasks "
                           "from the cache)")
    runs.add_argument("--data-root", default=None, help="the CoOp datasets' folder (default: $MMPROMPTS_DATA)")
    runs.add_argument("--delete", action="store_true", help="prune: delete the runs (without it, only list them)")
    toy = commands.add_parser("toy-data", formatter_class=fmt,
                              help="write small synthetic datasets in the CoOp layout (to try the pipeline)")
    toy.add_argument("root", help="data root to write into")
    toy.add_argument("--dataset", nargs="+", default=["eurosat"], choices=sorted(TOY_CLASSES), metavar="NAME",
                     help=f"datasets to imitate: {', '.join(sorted(TOY_CLASSES))}")
    toy.add_argument("--per-class", type=int, nargs=3, default=[20, 4, 6], metavar=("TRAIN", "VAL", "TEST"),
                     help="images per class in each split")
    toy.add_argument("--force", action="store_true",
                     help="replace a dataset folder that exists already (it is deleted first)")
    book = commands.add_parser("book", formatter_class=fmt,
                               help="execute every notebook with Papermill and build the HTML book (Jupyter Book 1)")
    book.add_argument("--profile", default="mini", help="notebook profile: 'mini' (offline, CPU) or 'paper'")
    book.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                      help="override one notebook parameter; VALUE is YAML, e.g. -p seeds '[1, 2]' -p data_root /data")
    book.add_argument("--no-html", action="store_true", help="execute the notebooks only")
    for name, text in (("sweep", "train every run of a table preset on Ray (cached runs are skipped)"),
                       ("tables", "print a preset's tables from the runs in the cache (never trains)")):
        command = commands.add_parser(name, formatter_class=fmt, help=text)
        command.add_argument("--preset", default="table1", choices=["table1", "table2", "table3", "all"])
        command.add_argument("--profile", default="mini", help="'mini' (offline mini world) or 'paper' (ViT-B/16, CoOp data)")
        command.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                             help="override a profile setting; VALUE is YAML, e.g. -p seeds '[1, 2]' -p data_root /data")
        command.add_argument("--format", choices=["md", "csv"], default="md", help="table format")
        command.add_argument("--output", default=None, help="also write the tables to this file")
        if name == "sweep":
            command.add_argument("--address", default=None,
                                 help="Ray cluster to join (e.g. 'auto'); default: start Ray on this machine")
            command.add_argument("--cpus-per-run", type=float, default=1.0,
                                 help="CPUs a task (the seeds of one setting, trained together) asks for when there is no GPU")
    return parser


def _sweep_or_tables(args: argparse.Namespace) -> int:
    from .experiments import FailedRun, results
    from .presets import preset_specs
    from .profiles import settings
    from .sweep import check_sweep_options, run_sweep
    from .tables import preset_tables, to_csv, to_markdown

    if args.command == "sweep":
        check_sweep_options(args.address, args.cpus_per_run)  # before the model loads and Ray starts
    config = settings(args.profile, **_yaml_parameters(args.parameter))
    output = _output_file(args.output, None)
    clip = config.load_model()
    layers = clip.depth
    specs = preset_specs(args.preset, config, layers)
    if args.command == "sweep":
        result = run_sweep(specs, config, address=args.address, cpus_per_run=args.cpus_per_run)
        accuracies = result.accuracies
        print(f"{len(specs)} runs: {len(accuracies) - result.from_cache} trained, {result.from_cache} from the cache, "
              f"{len(result.errors)} failed", file=sys.stderr)
        for spec, error in sorted(result.errors.items(), key=lambda item: (item[0].dataset, item[0].label, item[0].seed)):
            print(f"  failed {spec.dataset}, {spec.label}, seed {spec.seed}: {error}", file=sys.stderr)
    else:
        accuracies = {}
        for spec, found in results(specs, clip, config, only_cached=True, progress=False).items():
            if isinstance(found, LookupError):
                continue
            if isinstance(found, Exception):
                raise found
            accuracies[spec] = found if isinstance(found, FailedRun) else found.accuracy
            if isinstance(found, FailedRun):  # the table shows the cell as failed; say which run and why
                print(f"  {found.reason} {spec}: {found.detail}", file=sys.stderr)
        print(f"{len(accuracies)} of {len(specs)} runs of {args.preset} are in the cache", file=sys.stderr)
    render = to_csv if args.format == "csv" else to_markdown
    text = "\n".join(render(table, columns) if args.format == "csv" else render(table, columns, caption)
                     for caption, table, columns in preset_tables(args.preset, accuracies, config.datasets, layers,
                                                                 config.depths, config.prompt_counts))
    print(text)
    if output is not None:
        atomic_write_text(output, text)
    return 1 if args.command == "sweep" and result.errors else 0


def _yaml_parameters(pairs: list[list[str]]) -> dict:
    """`-p NAME VALUE` pairs with each VALUE read as YAML; a VALUE that is not YAML is named."""
    import yaml

    values = {}
    for name, text in pairs:
        try:
            values[name] = yaml.safe_load(text)
        except yaml.YAMLError as err:
            problem = getattr(err, "problem", None) or type(err).__name__
            raise ValueError(f"-p {name} {text!r}: not a YAML value ({problem}); e.g. -p seeds '[1, 2]'") from err
    return values


def _output_file(value: str | None, default: Path | None) -> Path | None:
    """The results file, checked before any work is done: a long run must not end on a bad path."""
    if value is None:
        return default
    path = Path(value).expanduser()
    if path.is_dir():
        raise ValueError(f"--output {value!r} is a folder; give a file name, e.g. {str(path / 'results.json')!r}")
    if not path.parent.is_dir():
        raise ValueError(f"--output {value!r}: the folder {str(path.parent)!r} does not exist; create it first")
    return path


def _book(args: argparse.Namespace) -> int:
    from papermill.exceptions import PapermillExecutionError

    from .book import build_book

    parameters = {"profile": args.profile, **_yaml_parameters(args.parameter)}
    try:
        html = build_book(parameters, html=not args.no_html)
    except PapermillExecutionError as err:
        print(f"error: notebook failed: {err.ename}: {err.evalue}", file=sys.stderr)
        return 1
    except (subprocess.CalledProcessError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"book written to {html}" + (f" (open {html / 'index.html'})" if not args.no_html else ""))
    return 0


def _runs(args: argparse.Namespace) -> int:
    root = cache_root(args.cache)
    if root.exists() and not root.is_dir():
        raise ValueError(f"--cache {args.cache or str(root)!r} is a file, not a run cache folder; give the folder "
                         "(default: $MMPROMPTS_CACHE or ~/.cache/mmprompts)")
    cached = list_runs(args.cache)
    known = sorted(set(DATASETS) | set(MINI_TASKS) | {run.dataset for run in cached if run.config})
    if args.dataset is not None and args.dataset not in known:
        raise ValueError(f"--dataset {args.dataset!r}: no such dataset; give one of {', '.join(known)}")
    found = [run for run in cached if args.dataset in (None, run.dataset) and args.status in (None, run.status)]
    if args.action == "show":
        if not args.key:
            raise ValueError("runs show KEY: give a run's key or a unique prefix of it; `python -m mmprompts runs` lists them")
        print(run_details(find_run(found, args.key)))
        return 0
    if args.key is not None:
        raise ValueError(f"{args.key!r}: only `runs show KEY` takes a key")
    if args.action == "list":
        print(runs_table(found))
        print(f"{len(found)} runs, {size_text(sum(r.size for r in found))} in {cache_root(args.cache) / 'runs'}")
        return 0
    if not (args.older_trainer or args.missing_data):
        raise ValueError("runs prune: say which runs to remove: --older-trainer and/or --missing-data")
    reasons = prune_reasons(found, older_trainer=args.older_trainer, missing_data=args.missing_data,
                            data_root=args.data_root, cache=args.cache)
    doomed = [run for run in found if run.key in reasons]
    training = [run for run in doomed if run.status == "training"]  # never pulled from under a trainer
    doomed = [run for run in doomed if run.status != "training"]
    if doomed:
        print(runs_table(doomed, reasons))
    if training:
        print(f"kept {len(training)} runs that another process is training now ({', '.join(r.key for r in training)}); "
              "prune again when it has finished")
    if not args.delete:
        print(f"would delete {len(doomed)} runs ({size_text(sum(r.size for r in doomed))}); add --delete to delete them")
        return 0
    removed = remove_runs(doomed)
    if len(removed) < len(doomed):
        print(f"kept {len(doomed) - len(removed)} runs that another process started training meanwhile")
    print(f"deleted {len(removed)} runs ({size_text(sum(r.size for r in removed))})")
    return 0


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default in its help, except None: an option whose default depends on other options
    (the recipe's, from the model's profile) says so in its own help."""

    def _get_help_string(self, action: argparse.Action) -> str:
        return action.help if action.default is None else super()._get_help_string(action)


def _recipe(args: argparse.Namespace) -> Recipe:
    """The recipe of the model's profile with the options given on the command line."""
    names = ("epochs", "batch_size", "lr", "momentum", "weight_decay", "warmup_epochs", "warmup_lr")
    changes = {name: getattr(args, name) for name in names if hasattr(args, name)}
    if "epochs" in changes and "warmup_epochs" not in changes:
        changes["warmup_epochs"] = None  # the warm-up follows the epochs given (Recipe: min(1, epochs - 1))
    return dataclasses.replace(default_recipe(args.model), **changes)


def _table(rows: list[dict]) -> str:
    header = f"{'dataset':<16} {'method':<34} {'runs':>4}  {'accuracy':>14}  per run (* = from cache)"
    lines = [header, "-" * len(header)]
    for row in rows:
        accs = row["accuracies"]
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        cached = row.get("cached", [False] * len(accs))
        per_run = " ".join(f"{a:.2f}{'*' if c else ''}" for a, c in zip(accs, cached))
        lines.append(f"{row['dataset']:<16} {row['method']:<34} {len(accs):>4}  "
                     f"{statistics.mean(accs):6.2f} ± {std:5.2f}  {per_run}")
    return "\n".join(lines)


def guarded(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run a command-line `main`: a failure or bad input ends with one line on stderr, and so does Ctrl-C;
    warnings (a run file healed) print as one line too."""
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            code = main(argv)
            sys.stdout.flush()  # here, where a reader that stopped (`| head`) is caught below, not at exit
            return code
    except BrokenPipeError:
        # The reader of our output stopped (`runs show KEY | head`): end quietly, as `cat` does. Python would
        # report the pipe once more when it flushes stdout at exit, so stdout goes to /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE: what a shell reports for a command its reader stopped
    except KeyboardInterrupt:
        print("interrupted: finished work stays in the cache; the same command resumes it", file=sys.stderr)
        return 130
    except (ValueError, LookupError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    return guarded(_main, argv)


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "book":
        return _book(args)
    if args.command in ("sweep", "tables"):
        return _sweep_or_tables(args)
    if args.command == "runs":
        return _runs(args)
    if args.command == "toy-data":
        for name in args.dataset:
            print(f"wrote {make_toy_dataset(args.root, name, tuple(args.per_class), force=args.force)}")
        return 0
    # everything that can be checked without the model is checked before it loads
    output = _output_file(args.output, cache_root(args.cache) / "results" / f"{args.command}.json")
    recipe = _recipe(args) if args.command != "zeroshot" else None  # a bad value fails before the model loads
    if args.command != "zeroshot":
        check_seeds(args.seeds)
        check_log_every(args.log_every, "--log-every")
        if args.bias_layers is not None and args.method != "bias":
            raise ValueError(f"--bias-layers {' '.join(map(str, args.bias_layers))}: only --method bias uses it "
                             f"(this is --method {args.method}); drop it or add --method bias")
    # the mini world is generated into the run cache given (where `runs prune` looks for it), unless --data-root
    datasets = [load_dataset(name, args.data_root or (cache_root(args.cache) / "mini-world" if name in MINI_TASKS else None))
                for name in args.dataset]
    clip = load_clip(args.model, args.pretrained, checkpoint=args.checkpoint, device=args.device)
    rows, failed = [], []  # the runs of every dataset and seed train together; one that fails leaves the others to finish
    if args.command == "zeroshot":
        for name, data in zip(args.dataset, datasets):
            result = zero_shot_run(clip, data, cache=args.cache, workers=args.workers, progress=not args.quiet)
            rows.append({"dataset": name, "method": "zero-shot", "accuracies": [result.accuracy],
                         "runs": [result.key], "cached": [result.cached]})
    else:
        method = method_config(args.method, args.n_ctx, args.depth, clip.depth, args.bias_layers)
        label = method_label(method)
        requests = [(data, method, seed) for data in datasets for seed in args.seeds]
        outcomes = train_runs(clip, requests, shots=args.shots, recipe=recipe, cache=args.cache,
                              only_cached=args.command == "eval", workers=args.workers, progress=not args.quiet,
                              recompute_text=args.recompute_text, log_every=args.log_every)
        for name in args.dataset:
            mine = [(seed, r) for (data, _, seed), r in zip(requests, outcomes) if data.name == name]
            done = [(seed, r) for seed, r in mine if not isinstance(r, Exception)]
            failed += [(name, seed, err) for seed, err in mine if isinstance(err, Exception)]
            if done:
                rows.append({"dataset": name, "method": label, "seeds": [seed for seed, _ in done],
                             "accuracies": [r.accuracy for _, r in done], "runs": [r.key for _, r in done],
                             "cached": [r.cached for _, r in done]})
    if failed and not rows:
        raise failed[0][2]  # nothing finished: the one-line error of the first failure
    for name, seed, err in failed:
        print(f"error: {name} seed {seed}: {err}", file=sys.stderr)
    print(_table(rows))
    atomic_write_text(output, json.dumps({"command": args.command, "model": clip.identity, "rows": rows}, indent=1))
    print(f"results written to {output}")
    return 2 if failed else 0
