"""Write config/README.md from the config schema: every key, its type, default and meaning.

The schema (workflow/schemas/config.schema.yaml and studies/*.schema.yaml) is the one source;
tests/test_config_readme.py checks that config/README.md is what this renders.
Run: python workflow/schemas/render_config_readme.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from medrobust.config import load_schema  # noqa: E402

HEADER = """# Configuration

Generated from `workflow/schemas/` by `workflow/schemas/render_config_readme.py`; do not edit by hand.

`config/config.yaml` is the workstation default (a 2-core CPU); `config/paper.yaml` restores paper
scale (`--configfile config/paper.yaml`, for a GPU or a cluster). Every key below can be set in a
config file or on the command line (`--config`); a wrong type, an unknown key or an out-of-range
value stops the run with a message naming the key. Keys are written with dots for nesting:
`ehr.training.gru.epochs` is `ehr: {training: {gru: {epochs: ...}}}` in YAML.
"""


def _type(node: dict) -> str:
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array" and isinstance(node.get("items"), dict):
        kind = f"list of {_type(node['items'])}"
    bounds = [f"{word} {node[key]}" for key, word in (("minimum", "≥"), ("exclusiveMinimum", ">"),
                                                        ("maximum", "≤"), ("exclusiveMaximum", "<"))
              if key in node]
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def _default(node: dict) -> str:
    if "default" not in node or isinstance(node.get("default"), dict) and node.get("properties"):
        return ""
    return "`" + json.dumps(node["default"]) + "`"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _rows(node: dict, prefix: str) -> list[str]:
    rows = []
    for key, child in (node.get("properties") or {}).items():
        name = f"{prefix}{key}"
        if child.get("type") == "object" and child.get("properties"):
            if child.get("description"):
                rows.append(f"| `{name}` | section | | {_cell(child['description'])} |")
            rows += _rows(child, name + ".")
        else:
            rows.append(f"| `{name}` | {_cell(_type(child))} | {_cell(_default(child))} | "
                        f"{_cell(child.get('description', ''))} |")
    return rows


def render(schema: dict) -> str:
    out = [HEADER]
    top = {k: v for k, v in schema["properties"].items() if not (v.get("type") == "object" and v.get("properties"))}
    sections = {k: v for k, v in schema["properties"].items() if k not in top}
    table = "| key | type | default | meaning |\n|---|---|---|---|"
    out += ["## Top level\n", table, *_rows({"properties": top}, ""), ""]
    for name, node in sections.items():
        out += [f"## `{name}`\n"]
        if node.get("description"):
            out += [_cell(node["description"]) + "\n"]
        out += [table, *_rows(node, name + "."), ""]
    return "\n".join(out)


def main() -> None:
    text = render(load_schema(ROOT / "workflow" / "schemas"))
    (ROOT / "config" / "README.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
