"""Every rule's conda env holds every package its script imports, directly or through medrobust.

No conda channel can be reached where medrobust is developed, so `--sdm conda` cannot be run here;
this static check stands in for it. For each rule with both `script:` and `conda:`, it walks the
script's imports (module level and inside functions) through the medrobust modules they reach, maps
each third-party module to its distribution, and requires that distribution in the env's package
list or among the dependencies those packages declare (read from the installed metadata).
"""
from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
RULE_RE = re.compile(r"^(?:rule|checkpoint) (\w+):\s*$")


def rules_with_envs() -> list[tuple[str, str, Path]]:
    """(rule, env yaml name, script path) for every rule that names both."""
    found = []
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        rule, env, script = None, None, None
        for line in smk.read_text().splitlines() + ["rule end:"]:
            head = RULE_RE.match(line)
            if head:
                if rule and env and script:
                    found.append((rule, env, (smk.parent / script).resolve()))
                rule, env, script = head.group(1), None, None
            elif m := re.match(r'\s+"\.\./\.\./envs/(\w+)\.yaml"', line):
                env = m.group(1)
            elif m := re.match(r'\s+"(\.\./\.\./scripts/\w+\.py)"', line):
                script = m.group(1)
    return found


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                package = path.relative_to(SRC).parent.parts[: len(path.relative_to(SRC).parent.parts) - node.level + 1]
                base = ".".join(package)
                mod = f"{base}.{node.module}" if node.module else base
                names.add(mod)
                names |= {f"{mod}.{a.name}" for a in node.names}
            elif node.module:
                names.add(node.module)
                names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def medrobust_file(module: str) -> list[Path]:
    """The files importing ``module`` runs: each package __init__ on the way, and the module."""
    parts, files = module.split("."), []
    for i in range(1, len(parts) + 1):
        base = SRC.joinpath(*parts[:i])
        if (base / "__init__.py").is_file():
            files.append(base / "__init__.py")
        elif base.with_suffix(".py").is_file():
            files.append(base.with_suffix(".py"))
            break
        else:
            break
    return files


@lru_cache(maxsize=None)
def third_party_imports(script: Path) -> frozenset[str]:
    seen, todo, outside = set(), [script], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top == "medrobust":
                todo += medrobust_file(module)
            elif top not in sys.stdlib_module_names and top != "snakemake":
                outside.add(top)
    return frozenset(outside)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions_of(top_module: str) -> set[str]:
    return {canonical(d) for d in md.packages_distributions().get(top_module, [])}


def closure(packages: list[str]) -> set[str]:
    """The packages and every dependency they declare (without extras), from the installed metadata."""
    todo, done = [canonical(p) for p in packages], set()
    while todo:
        name = todo.pop()
        if name in done:
            continue
        done.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for spec in requires:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonical(req.name))
    return done


def env_packages(env: str) -> list[str]:
    spec = yaml.safe_load((ROOT / "envs" / f"{env}.yaml").read_text())
    pip = next((d["pip"] for d in spec["dependencies"] if isinstance(d, dict)), [])
    conda = [d for d in spec["dependencies"] if isinstance(d, str)]
    names = [re.split(r"[=<>!~ ]", p)[0] for p in pip + conda if not p.startswith("-")]
    return [n for n in names if n not in ("python", "pip")]


RULES = rules_with_envs()


def test_the_rule_files_are_parsed():
    # a parser that finds nothing would pass everything below
    assert len(RULES) >= 30, RULES
    assert {"report", "fetch"} <= {rule.split("_")[0] for rule, _, _ in RULES} | {rule for rule, _, _ in RULES}


def test_the_walk_follows_medrobust_imports():
    # the report script reaches jinja2 only through medrobust.report.build
    report = next(script for rule, _, script in RULES if rule == "report")
    assert "jinja2" in third_party_imports(report)


@pytest.mark.parametrize("rule,env,script", RULES, ids=[r for r, _, _ in RULES])
def test_env_holds_what_the_rule_imports(rule, env, script):
    available = closure(env_packages(env))
    missing = {}
    for module in sorted(third_party_imports(script)):
        dists = distributions_of(module)
        assert dists, f"rule {rule}: {script.name} imports {module!r}, which no installed distribution provides"
        if not dists & available:
            missing[module] = sorted(dists)
    assert not missing, f"rule {rule} (envs/{env}.yaml) imports {missing} that the env does not install"
