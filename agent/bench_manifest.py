"""A manifest of committed result files: the runs behind a benchmark report, readable on a fresh clone.

A manifest is a JSON file that reads

    {"machine": "where the runs ran unless a run says otherwise",
     "groups": [{"env": "vizdoom:TakeCover,repeat=8", "algo": "dreamdit", "variant": "default preset",
                 "runs": [{"run": "takecover_default_100k_seed8.json"},
                          {"run": "takecover_default_100k_seed4.json", "eval": "eval_greedy_...json",
                           "machine": "...", "note": "..."}]}]}

with paths relative to the manifest: `run` a run's results.json, `eval` (optional) a `dreamdit eval --json`
file of the same run (checked where the files record the run) that replaces its final evaluation (e.g. greedy
play of a run that evaluated sampling), `counted_decisions` (optional, true) for a run from before budgets
counted game steps, whose env_steps counted decisions. An optional top-level "figures" list ({"file": ...,
"caption": ...}) names committed learning curves to show.
"""
import json
from pathlib import Path

from envs.errors import DreamditError
from envs.factory import action_repeat

RUN_KEYS = ("env", "algo", "seed", "env_steps", "wall_time_s", "peak_memory_gb", "final_eval", "command")
EVAL_KEYS = ("mean", "std", "episodes")  # of a final evaluation, in results.json or a `dreamdit eval` file


def read_result(manifest: Path, name: str, keys: tuple = ()) -> dict:
    """A result file a manifest names, which must hold `keys`."""
    try:
        data = json.loads((manifest.parent / name).read_text())
    except (OSError, ValueError) as err:
        raise DreamditError(f"{manifest}: cannot read result file {name} ({err})") from err
    if missing := [field for field in keys if field not in data]:
        raise DreamditError(f"{manifest}: result file {name} lacks {', '.join(missing)}")
    return data


def manifest_run(manifest: Path, entry: dict, machine: str) -> dict:
    """One run of a manifest: its results.json, with its final evaluation replaced where an eval file is named."""
    run = dict(read_result(manifest, entry["run"], RUN_KEYS), run_dir=None, machine=entry.get("machine", machine),
               note=entry.get("note", ""), files=[entry["run"]])
    if "eval" in entry:
        run["final_eval"], run["files"] = read_result(manifest, entry["eval"]), run["files"] + [entry["eval"]]
        check_same_run(manifest, run, entry)
    if entry.get("counted_decisions"):  # runs from before budgets counted game steps
        run["env_steps"] *= action_repeat(run["env"])
    if missing := [field for field in EVAL_KEYS if field not in run["final_eval"]]:
        raise DreamditError(f"{manifest}: the final evaluation in {run['files'][-1]} lacks {', '.join(missing)}")
    if run["final_eval"].get("env", run["env"]) != run["env"]:
        raise DreamditError(f"{manifest}: {run['files'][-1]} evaluated {run['final_eval']['env']}, "
                            f"not the env of {entry['run']} ({run['env']})")
    return run


def check_same_run(manifest: Path, run: dict, entry: dict) -> None:
    """An eval file that names the run it measured (seed, game steps, checkpoint digest) must name this one;
    files from before `dreamdit eval --json` recorded them pass unchecked."""
    evaluation = run["final_eval"]
    pairs = [("trained_seed", "seed"), ("trained_env_steps", "env_steps"), ("checkpoint_sha256", "checkpoint_sha256")]
    for measured, trained in pairs:
        if measured in evaluation and trained in run and evaluation[measured] != run[trained]:
            raise DreamditError(f"{manifest}: {entry['eval']} measured a checkpoint with {measured} "
                                f"{evaluation[measured]}, not the run of {entry['run']} ({trained} {run[trained]})")


def load_manifest(manifest: Path) -> tuple[dict, list[dict]]:
    """(env, algo, variant) -> the runs a manifest names (module docstring), in its order; and its figures.
    Anything missing or inconsistent is a DreamditError naming the manifest and the file."""
    try:
        spec = json.loads(manifest.read_text())
        groups = {}
        for group in spec["groups"]:
            key, runs = (group["env"], group["algo"], group["variant"]), []
            if key in groups or not group["runs"]:
                raise DreamditError(f"{manifest}: the group {', '.join(key)} is empty or named twice")
            for entry in group["runs"]:
                run = manifest_run(manifest, entry, spec["machine"])
                if (run["env"], run["algo"]) != key[:2] or run["seed"] in [other["seed"] for other in runs]:
                    raise DreamditError(f"{manifest}: {entry['run']} (a {run['algo']} run of {run['env']}, seed "
                                        f"{run['seed']}) does not belong to the group {', '.join(key)}")
                runs.append(run)
            groups[key] = runs
        figures = spec.get("figures", [])
        for figure in figures:
            if "caption" not in figure or not (manifest.parent / figure["file"]).is_file():
                raise DreamditError(f"{manifest}: figure {figure['file']} is not a file or has no caption")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DreamditError(f"{manifest} is not a readable results manifest ({type(err).__name__}: {err})") from err
    return groups, figures
