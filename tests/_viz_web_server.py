"""Run the web viewer on a sphere scene (subprocess helper of test_viz_web.py): python _viz_web_server.py PORT SAVE."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _viz_fixtures import CORTEX_R, PEAK_DIR, SphereSolver, figure8_coil, pose_over, sphere_head  # noqa: E402
from tmsfield.viz import ViewerState  # noqa: E402
from tmsfield.viz.web import serve_web  # noqa: E402

if __name__ == "__main__":
    port, save = int(sys.argv[1]), sys.argv[2]
    head = sphere_head(4)
    state = ViewerState(head, figure8_coil(), pose_over(PEAK_DIR), solver=SphereSolver(head), didt=50.0,
                        target_mm=PEAK_DIR * CORTEX_R, info={"coil_name": "test_fig8"})
    sys.exit(serve_web(state, port=port, save_path=save))
