"""Write the fixture mirror and the smoke config for a cluster run: python make_smoke_inputs.py <dir>."""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from fixtures.mirror import make_fixture_mirror  # noqa: E402


def main(out: Path) -> None:
    md5 = make_fixture_mirror(out / "mirror")
    config = yaml.safe_load((ROOT / "tests" / "configs" / "smoke.yaml").read_text())
    config["data"].setdefault("medmnist", {})["md5"] = md5
    (out / "smoke.yaml").write_text(yaml.safe_dump(config))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
