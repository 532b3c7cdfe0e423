"""The README's Python quick-start and set-up commands stay true."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_python_block_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks, "README has no ```python block"
    script = tmp_path / "readme_snippet.py"
    script.write_text(blocks[0] + "\nassert E_cortex.shape == (head.cortex.n_vertices, 3)\n"
                      "assert np.isfinite(E_cortex).all() and np.abs(E_cortex).max() > 0\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_readme_setup_commands_exist():
    # exactly the two set-up commands, both going through run.sh, which .ci/run calls too
    assert "bash run.sh target" in README and "bash run.sh test" in README
    assert "bash run.sh test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
    run_sh = (REPO / "run.sh").read_text(encoding="utf-8")
    assert 'pip install -q --disable-pip-version-check -e ".[test]"' in run_sh and "pytest" in run_sh
