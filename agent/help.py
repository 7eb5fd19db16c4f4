"""Help texts: `dreamdit --help` (the commands) and `python train.py --help` (every option of the config)."""
import ast
import inspect
import json
import textwrap
from dataclasses import fields
from importlib.util import find_spec
from pathlib import Path

from agent.config import PRESETS, Config
from agent.options import option_aliases, option_leaves


def field_docs(cls) -> dict:
    """Field name -> the docstring written under the field in the dataclass's source."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    return {node.target.id: " ".join(doc.value.value.split()) for node, doc in zip(body, body[1:])
            if isinstance(node, ast.AnnAssign) and isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)}


def config_help() -> str:
    """`python train.py --help`: the presets, then every option with its `default`-preset value and meaning."""
    cfg = Config()
    # "env" is the last alias, so it is the one that names env.spec
    short = {key: name for name, key in option_aliases(option_leaves(cfg)).items()}
    lines = ["usage: python train.py [--preset NAME] [--resume] [--debug] [--OPTION VALUE ...]  (also: dreamdit train)",
             "",
             f"presets: {', '.join(PRESETS)}; without --preset: default (ViZDoom Take Cover, 100k game steps)",
             "--resume  continue the run in --run-dir with the config it was started with",
             "--debug   show the traceback of an error",
             "",
             "options, with the default preset's values (--SECTION.FIELD always works; --FIELD where it is unique):"]
    for s in fields(cfg):
        section = getattr(cfg, s.name)
        docs = field_docs(type(section))
        lines.append(f"\n{s.name}:")
        for f in fields(section):
            key = f"{s.name}.{f.name}"
            lines.append(f"  --{short.get(key, key).replace('_', '-')} {json.dumps(getattr(section, f.name))}")
            lines += textwrap.wrap(docs.get(f.name, ""), 100, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines)


def commands_help(commands: dict) -> str:
    """The commands, each with the first line of its module's docstring (read from source: nothing imported);
    `commands` maps a name to its module's name."""
    lines = ["usage: dreamdit [COMMAND] [OPTIONS]  (without a command: train)", "", "commands:"]
    for name, module in commands.items():
        first = ast.get_docstring(ast.parse(Path(find_spec(module).origin).read_text())).splitlines()[0]
        lines.append(f"  {name:<9}{first.removeprefix(f'`dreamdit {name}`: ')}")
    lines += ["", "`dreamdit COMMAND --help` shows a command's options; those of train follow.", ""]
    return "\n".join(lines)
