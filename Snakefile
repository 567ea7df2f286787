"""medrobust: reproductions of published attacks on medical ML, and the defenses against them.

Validates the config against workflow/schemas (defaults filled in), then includes one rule file
per study plus common, data and report. A study plugs in by adding workflow/rules/<study>.smk
and workflow/schemas/studies/<study>.schema.yaml; nothing central changes.
"""

import sys
from pathlib import Path

from snakemake.utils import min_version

# The workflow's own library, importable here and in every job (a job inherits this environment,
# also in a --sdm conda env, which therefore need not install medrobust; see envs/render_conda_envs.py).
_SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, _SRC)

from medrobust.config import export_library_path, load_schema, validate

export_library_path(_SRC)

min_version("9.0")


configfile: Path(workflow.basedir) / "config" / "config.yaml"


# --config values are typed as YAML (Snakemake leaves nested ones strings); the main process alone
# checks that the mirror folder exists (a cluster job need not see it).
_validated = validate(
    config,
    load_schema(Path(workflow.basedir) / "workflow" / "schemas"),
    command_line=workflow.config_settings.config,
    check_paths=workflow.is_main_process,
)
config.clear()
config.update(_validated)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"


for _study_rules in study_rule_files():

    include: _study_rules


include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
