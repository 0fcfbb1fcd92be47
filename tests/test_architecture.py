"""The house plan, checked: imports go one way (tui -> agent -> tools -> models), no cycles, no
private names imported across modules, and a tool is known from its registry entry alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"tui": 3, "agent": 2, "tools": 1, "models": 0}
# the console script is the CLI's; it opens the Textual app for `arsnova chat`, and only there
UPWARD_ALLOWED = {("agent.cli", "tui")}
# the agent's imports of models/, each with its reason (docs/ARCHITECTURE.md lists them too)
AGENT_MODEL_IMPORTS = {
    "models.common.errors",  # the error kinds the CLI turns into exit codes
    "models.common.encoder",  # the router plans with the sentence encoder
    "models.common.causal_lm",  # the hf: planner loads a causal LM
    "models.common.llamacpp",  # the gguf: planner loads a GGUF on llama.cpp (the poet's gguf: shares it)
    "models.common.files",  # briefs, summaries and bundles are read and written capped and atomically
    "models.common.runtime",  # the weights folder and the app version
    "models.common.learned",  # the names of models learned from the person's work (`arsnova learn`)
}
# `arsnova train` runs the training code of the embedded models itself: no tool is involved
TRAINING_IMPORTS = ("models.music.training", "models.poetry.training", "models.image.training",
                    "models.music.generator")


def _modules() -> dict[str, Path]:
    out = {"tui": ROOT / "tui.py"}
    for pkg in ("agent", "tools", "models"):
        for p in (ROOT / pkg).rglob("*.py"):
            parts = p.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = p
    return out


def _imports(path: Path, name: str, modules: dict[str, Path]) -> list[tuple[str, list[str], int, bool]]:
    """(module imported, names taken from it, line, at module level) for project modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in LAYERS:
                    found.append((a.name, [], node.lineno, id(node) in top))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in LAYERS:
                continue
            names = [a.name for a in node.names]
            subs = [f"{node.module}.{n}" for n in names if f"{node.module}.{n}" in modules]
            for s in subs:
                found.append((s, [], node.lineno, id(node) in top))
            found.append((node.module, [n for n in names if f"{node.module}.{n}" not in modules],
                          node.lineno, id(node) in top))
    return found


def _layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def test_imports_go_one_way_and_name_nothing_private():
    modules = _modules()
    problems = []
    for name, path in modules.items():
        for target, names, line, _ in _imports(path, name, modules):
            if _layer(target) > _layer(name) and (name, target) not in UPWARD_ALLOWED:
                problems.append(f"{path.relative_to(ROOT)}:{line}: {name} imports {target} (upward)")
            for n in names:
                if n.startswith("_") and not n.startswith("__") and target != name:
                    problems.append(f"{path.relative_to(ROOT)}:{line}: imports the private name {target}.{n}")
    assert not problems, "\n".join(problems)


def test_no_import_cycles():
    """Module-level and function-level imports alike: a cycle through a lazy import is still a
    tangle a reader has to hold in mind."""
    modules = _modules()
    graph = {name: {t for t, _, _, _ in _imports(path, name, modules) if t in modules and t != name}
             for name, path in modules.items()}
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    for name in graph:
        graph[name] = {t for t in graph[name] if not (t.startswith(name + ".") and modules[name].name == "__init__.py")}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                cycles.append(" -> ".join(stack[stack.index(m):] + [m]))
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    assert not cycles, "\n".join(cycles)


def test_the_agent_imports_models_only_where_it_must():
    modules = _modules()
    extra = set()
    for name, path in modules.items():
        if not name.startswith("agent"):
            continue
        for target, _, _, _ in _imports(path, name, modules):
            if not target.startswith("models") or target in AGENT_MODEL_IMPORTS:
                continue
            if name == "agent.train_cli" and target.startswith(TRAINING_IMPORTS):
                continue
            extra.add(f"{name} -> {target}")
    assert not extra, sorted(extra)
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for m in (*AGENT_MODEL_IMPORTS, *TRAINING_IMPORTS):
        assert f"`{m}`" in doc, f"docs/ARCHITECTURE.md does not say why the agent imports {m}"


def test_a_tool_is_known_from_its_registry_entry():
    """Every table that used to be keyed by tool name reads the registry."""
    from tools import registry

    specs = registry.TOOLS
    assert [s.name for s in specs] == ["write_poem", "generate_image", "style_transfer", "compose_music"]
    for s in specs:
        assert s.tool.name == s.name and s.tool.args_schema is s.schema
        assert s.router_examples and s.revise_words and callable(s.fill_args)
    text = "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "tui.py", *(ROOT / "agent").glob("*.py")])
    for s in specs:  # no other module spells a tool's name as a table key
        assert f'"{s.name}":' not in text and f"'{s.name}':" not in text, s.name


@pytest.mark.parametrize("script", ["arsnova"])
def test_the_console_script_is_the_cli(script):
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["scripts"][script] == "agent.cli:main"
