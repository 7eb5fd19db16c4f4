"""`dreamdit COMMAND ...`: one entry point for training (`train.py`) and the tools that read its runs."""
import signal
import sys
from importlib import import_module

from agent.help import commands_help
from envs import DreamditError, run_command

# Each command is the `main(argv)` of its module, imported only when it runs (torch and the games load slowly).
COMMANDS = {"train": "train", "eval": "agent.evaluate", "fidelity": "world_model.fidelity",
            "dream": "agent.dream_video", "play": "agent.play", "plot": "agent.plot", "bench": "agent.bench"}


def interrupt(signum, frame):
    """SIGTERM (what schedulers and `kill` send) stops a run the way Ctrl-C does: the `finally` blocks close
    the games, which would otherwise outlive this process, and the last checkpoint stays for --resume."""
    raise KeyboardInterrupt


def cli(argv=None) -> None:
    """User errors print one line and exit with status 2 (--debug shows the traceback)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    signal.signal(signal.SIGTERM, interrupt)
    debug = "--debug" in argv
    if argv[:1] in (["-h"], ["--help"]):
        print(commands_help(COMMANDS))  # then train's options, as `python train.py --help` shows them
    command = argv.pop(0) if argv and not argv[0].startswith("-") else "train"

    def run() -> None:
        if command not in COMMANDS:
            raise DreamditError(f"unknown command {command!r}: use one of {', '.join(COMMANDS)}")
        # train's config parser reads --debug itself; the other commands' parsers do not know it
        import_module(COMMANDS[command]).main(argv if command == "train" else [a for a in argv if a != "--debug"])

    try:
        run_command(run, "dreamdit", debug)
    except KeyboardInterrupt:
        print("dreamdit: interrupted; resume with --resume", file=sys.stderr)
        sys.exit(130)
