"""config/README.md is the schema rendered (workflow/schemas/render_config_readme.py), so it is never stale."""
import importlib.util
from pathlib import Path

from medrobust.config import load_schema

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location("render_config_readme",
                                               ROOT / "workflow" / "schemas" / "render_config_readme.py")
RENDER = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(RENDER)


def test_config_readme_is_current():
    expected = RENDER.render(load_schema(ROOT / "workflow" / "schemas"))
    assert (ROOT / "config" / "README.md").read_text(encoding="utf-8") == expected, (
        "config/README.md is stale: run python workflow/schemas/render_config_readme.py")


def test_every_leaf_key_is_documented():
    text = (ROOT / "config" / "README.md").read_text(encoding="utf-8")
    schema = load_schema(ROOT / "workflow" / "schemas")

    def leaves(node, prefix=""):
        for key, child in (node.get("properties") or {}).items():
            if child.get("type") == "object" and child.get("properties"):
                yield from leaves(child, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}"

    missing = [k for k in leaves(schema) if f"| `{k}` |" not in text]
    assert not missing, missing
