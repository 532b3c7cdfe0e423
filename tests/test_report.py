"""The one-file HTML report: parses, shows the result's numbers, loads nothing from outside, escapes user
text, embeds real PNG views, renders the motor-threshold block, writes a PDF (or says why not), and opens
in headless Chromium without errors."""

import base64
import html.parser
import io
import json
import re

import numpy as np
import pytest

from _viz_fixtures import PEAK_DIR, SCALP_R, SphereSolver, figure8_coil, pose_over, result_dict, sphere_head
from tmsfield.report import placement_rows, report_html, write_report
from tmsfield.report.html import MOTOR_THRESHOLD_LABELS

HOSTILE = 'DLPFC <script>alert("x")</script> & "quotes" \'single\' <img src=http://evil.example/x.png>'
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "area", "base", "source", "wbr"}


class _Page(html.parser.HTMLParser):
    """Collects tags, attributes and text; checks every non-void element is closed in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.attrs, self.text, self.tags = [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(page):
    p = _Page()
    p.feed(page)
    p.close()
    assert not p.errors, p.errors[:5]
    assert not p.stack, f"unclosed elements {p.stack}"
    return p, " ".join(p.text)


def _pngs(parsed):
    from PIL import Image

    out = []
    for tag, a in parsed.attrs:
        if tag == "img":
            src = a["src"]
            assert src.startswith("data:image/png;base64,"), src[:60]
            raw = base64.b64decode(src.split(",", 1)[1], validate=True)
            assert raw[:8] == b"\x89PNG\r\n\x1a\n"
            img = Image.open(io.BytesIO(raw))
            img.load()
            assert img.format == "PNG"
            out.append(np.asarray(img.convert("RGB")))
    return out


def _no_external_resources(page, parsed):
    for tag, a in parsed.attrs:
        for key in ("src", "href", "srcset", "action", "poster", "data"):
            if key in a:
                v = a[key] or ""
                assert v.startswith("data:") or v.startswith("#"), (tag, key, v[:80])
                head = v.split(",", 1)[0]        # the data: URI's header (its base64 payload may hold '//')
                assert "http:" not in head and "https:" not in head and "//" not in head, (tag, key, head)
    for tag in ("script", "link", "iframe", "object", "embed"):
        assert tag not in parsed.tags, f"<{tag}> in the report"
    assert "@import" not in page and "url(" not in page


@pytest.fixture(scope="module")
def head():
    return sphere_head(3)


def _result(head, with_mt=True, percent=60.0):
    pose = pose_over(PEAK_DIR)
    res = result_dict(head, pose, didt=percent * 1.5)
    res["dose"]["percent_output"] = percent
    res["target"].update(name=HOSTILE, mni_mm=[-38.0, 44.0, 26.0], citation="Fox MD et al. (2012) <i>Biol Psychiatry</i>")
    res["coil"]["name"] = "test_fig8 <b>bold</b>"
    res["stimulator"]["name"] = "Stim & Co \"X\""
    res["efield_at_target_v_per_m_per_a_per_us"] = 1.2345
    res["settings"] = {"model": "bem", "conductivities": {"scalp": 0.465, "skull": 0.01, "brain": 0.275},
                       "handle_angle_convention": "degrees from the posterior midline",
                       "job": {"head": "spheres", "percent_output": percent, "label": "<x>"},
                       "search": {"n_placements": 27294, "search_radius_mm": 20.0, "ranked": [1, 2, 3]}}
    heur = {}
    for k, (name, d) in enumerate((("eeg_f3", [0.1, -0.35, 0.12]), ("beam_f3", [-0.2, 0.1, -0.05]),
                                   ("rule_5p5cm", [0.3, -0.6, -0.2]))):
        p = pose_over(PEAK_DIR + np.asarray(d))
        heur[name] = {"position_mm": p[:3, 3].tolist(), "scalp_point_mm": (p[:3, 3] * SCALP_R / 96).tolist(),
                      "pose": p.tolist(), "handle_angle_deg": 45.0 - 10 * k,
                      "efield_at_target_v_per_m_per_a_per_us": 1.1 - 0.2 * k}
    res["heuristics"] = heur
    if with_mt:
        # the block exactly as tmsfield.targets.motor writes it (same function, same m1 sub-block)
        from tmsfield.targets.motor import motor_threshold_dose

        mt = motor_threshold_dose(52.5, 1.9, 1.2345 * 0.95, max_didt_a_per_us=150.0, depth_m1_mm=14.0,
                                  depth_target_mm=17.5)
        m1_pose = pose_over([-0.4, -0.1, 0.9])
        mt["warnings"] = ["120 % is <above> 100 % output"] + mt["warnings"]
        mt["m1"] = {"target": {"name": "m1_hand_knob", "mni_mm": [-37.0, -21.0, 58.0]}, "pose": m1_pose.tolist(),
                    "position_mm": m1_pose[:3, 3].tolist(), "scalp_point_mm": m1_pose[:3, 3].tolist(),
                    "handle_angle_deg": 45.0, "lift_mm": 0.0, "efield_v_per_m_per_a_per_us": 1.9}
        res["dose"]["motor_threshold"] = mt
    return res


def _fmt(p):
    return "(" + ", ".join(f"{float(v):.1f}" for v in p) + ")"


@pytest.fixture(scope="module")
def written(head, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    res = _result(head)
    info = write_report(res, out, size=(320, 240), head=head, coil=figure8_coil(), solver=SphereSolver(head),
                        generated_utc="2026-12-04T12:00:00Z")
    return res, out, info


def test_report_parses_and_shows_the_numbers_of_the_result(written):
    res, out, info = written
    assert info["html"] == out and out.is_file()
    page = out.read_text(encoding="utf-8")
    parsed, text = _parse(page)
    didt = res["dose"]["didt_a_per_us"]
    best = np.asarray(res["position_mm"])
    # the result's own placement and every heuristic: position, handle angle, distance, E per A/us and at the output
    rows = [(res["position_mm"], res["handle_angle_deg"], res["efield_at_target_v_per_m_per_a_per_us"])]
    rows += [(h["position_mm"], h["handle_angle_deg"], h["efield_at_target_v_per_m_per_a_per_us"])
             for h in res["heuristics"].values()]
    for pos, angle, e in rows:
        assert _fmt(pos) in text, pos
        assert f"{angle:.0f}" in text
        assert f"{e:.3f}" in text, e
        assert f"{e * didt:.1f}" in text, e * didt
        assert f"{np.linalg.norm(np.asarray(pos) - best):.1f}" in text
        # %MSO this placement needs for the optimum's field at the chosen output: E_best/E * percent
        needed = res["dose"]["percent_output"] * res["efield_at_target_v_per_m_per_a_per_us"] / e
        assert f"{needed:.1f}" in text, needed
    for name in ("EEG F3", "Beam F3", "5.5 cm rule", "Optimised"):
        assert name in text
    t = res["target"]
    assert _fmt(t["mni_mm"]) in text and _fmt(t["subject_mm"]) in text
    assert "Fox MD et al. (2012)" in text
    assert f"{res['dose']['percent_output']:.1f}" in text and f"{didt:.1f} A/µs" in text
    assert "0.465 S/m" in text and "27294" in text and "2026-12-04T12:00:00Z" in text
    assert res["tmsfield_version"] in text and res["created_utc"] in text
    # head model: each boundary's triangles
    for s in ("scalp",):
        assert s in text
    assert "Triangles" in text


def test_report_loads_nothing_from_outside_and_escapes_user_text(written):
    _, out, _ = written
    page = out.read_text(encoding="utf-8")
    parsed, text = _parse(page)
    _no_external_resources(page, parsed)
    assert "<script" not in page.lower() and "<b>bold</b>" not in page and "<i>Biol" not in page
    assert HOSTILE in text                       # shown as text, intact
    assert "test_fig8 <b>bold</b>" in text and 'Stim & Co "X"' in text
    assert "http://evil.example" not in "".join(a.get("src", "") for _, a in parsed.attrs)


def test_views_are_png_with_the_field(written):
    _, out, _ = written
    parsed, text = _parse(out.read_text(encoding="utf-8"))
    images = _pngs(parsed)
    assert len(images) == 3                                   # left lateral, dorsal, coil axis
    assert all(img.shape == (240, 320, 3) for img in images)
    for caption in ("left lateral", "dorsal", "coil axis"):
        assert caption in text
    for img in images:
        assert img.std() > 10                                  # not a blank frame
        px = img[:, : int(0.8 * img.shape[1])].astype(int)     # left of the colour bar
        r, g, b = px[..., 0], px[..., 1], px[..., 2]
        hot = (r > 150) & (r - b > 60) & (g < r)               # the field's orange/red/magenta, under the scalp
        assert hot.sum() > 300, hot.sum()                      # the peak of the field is in every view (a one-vertex field: <130 px)


def test_motor_threshold_block_is_rendered(written, head):
    res, out, _ = written
    parsed, text = _parse(out.read_text(encoding="utf-8"))
    mt = res["dose"]["motor_threshold"]
    assert "Motor-threshold dose" in text
    for key, (label, _) in MOTOR_THRESHOLD_LABELS.items():
        assert label in text, label
        assert f"{mt[key]:.1f}" in text, key
    assert mt["percent_output_120"] > 100 and "not reachable" in text   # 120 % of 85 %MSO flagged
    assert _fmt(np.asarray(mt["m1"]["pose"])[:3, 3]) in text
    assert "120 % is <above> 100 % output" in text
    plain = report_html(_result(head, with_mt=False), generated_utc="x")
    assert "Motor-threshold dose" not in plain


def test_placement_rows_without_dose():
    res = {"method": "eeg_f3", "position_mm": [0, 0, 90], "handle_angle_deg": 45, "dose": {}, "stimulator": {},
           "efield_at_target_v_per_m_per_a_per_us": 1.0,
           "heuristics": {"beam_f3": {"position_mm": [0, 3, 94], "handle_angle_deg": 40,
                                      "efield_at_target_v_per_m_per_a_per_us": 0.5}}}
    rows = placement_rows(res)
    assert [r["name"] for r in rows] == ["EEG F3", "Beam F3"]
    assert rows[1]["distance_from_best_mm"] == pytest.approx(5.0)
    assert rows[1]["e_at_output_v_per_m"] is None and rows[1]["percent_for_best_field"] is None
    res["dose"] = {"requested_v_per_m": 100.0}
    res["stimulator"] = {"max_didt_a_per_us": 150.0}
    rows = placement_rows(res)
    assert rows[0]["percent_for_best_field"] == pytest.approx(100 * 100.0 / (1.0 * 150.0))
    assert rows[1]["percent_for_best_field"] == pytest.approx(100 * 100.0 / (0.5 * 150.0))
    assert rows[1]["reachable"] is False
    page = report_html(res, generated_utc="x")
    assert "not reachable" in page and "per A/µs" in page


def test_cli_report_text_only_and_pdf(tmp_path, head, monkeypatch, capsys):
    import tmsfield
    from tmsfield.cli.main import main
    from tmsfield.report import pdf as pdf_mod

    monkeypatch.setattr(tmsfield, "load_head", lambda source: head, raising=False)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(_result(head)))
    assert main(["report", str(path), "--no-images"]) == 0
    page = (tmp_path / "plan.html").read_text(encoding="utf-8")
    parsed, text = _parse(page)
    assert str(path) in text and "<img" not in page
    # PDF: written when WeasyPrint is there, else skipped with the reason and the HTML still written
    monkeypatch.setattr(pdf_mod, "pdf_available", lambda: False)
    assert main(["report", str(path), "--no-images", "--pdf", "-o", str(tmp_path / "b.html")]) == 0
    err = capsys.readouterr().err
    assert "PDF skipped" in err and "tmsfield[pdf]" in err
    assert (tmp_path / "b.html").is_file() and not (tmp_path / "b.pdf").exists()


def test_pdf_with_weasyprint(tmp_path, head):
    pytest.importorskip("weasyprint", reason="WeasyPrint (optional extra 'pdf') is not installed")
    from tmsfield.report import pdf_available

    if not pdf_available():
        pytest.skip("WeasyPrint is installed but its system libraries (Pango) are not")
    info = write_report(_result(head), tmp_path / "r.html", images=False, head=head, pdf=True)
    data = info["pdf"].read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 2000
    assert info["pdf_skipped"] is None


def test_report_errors_name_the_problem(tmp_path, head):
    from tmsfield.errors import InputError, TmsfieldError

    with pytest.raises(InputError, match="does not exist"):
        write_report(_result(head), tmp_path / "nope" / "r.html", images=False, head=head)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TmsfieldError, match="bad.json"):
        write_report(bad, tmp_path / "r.html", images=False, head=head)


def test_no_http_in_any_attribute_regex(written):
    # belt and braces: no src/href attribute anywhere points at a URL or a protocol-relative path
    page = written[1].read_text(encoding="utf-8")
    for m in re.finditer(r'(?:src|href)\s*=\s*"([^"]*)"', page):
        v = m.group(1)
        assert v.startswith("data:image/png;base64,") or v.startswith("#"), v[:60]


def test_target_report_writes_the_html_beside_the_json(tmp_path, capsys):
    from tmsfield.cli.main import main

    out = tmp_path / "plan.json"
    assert main(["target", "--head", "mni152_coarse", "--model", "sphere", "--percent-output", "50", "--out", str(out),
                 "--report"]) == 0
    assert f"wrote {tmp_path / 'plan.html'}" in capsys.readouterr().out
    res = json.loads(out.read_text())
    page = (tmp_path / "plan.html").read_text(encoding="utf-8")
    parsed, text = _parse(page)
    _no_external_resources(page, parsed)
    assert len(_pngs(parsed)) == 3
    assert f"{res['dose']['efield_at_target_v_per_m']:.1f}" in text and str(out) in text
    assert main(["target", "--head", "mni152_coarse", "--model", "sphere", "--out", str(tmp_path / "b.json"),
                 "--report-pdf", "--no-heuristics"]) == 2
    assert "--report-pdf needs --report" in capsys.readouterr().err


def test_head_model_section_pairs_conductivities_with_tissues(head):
    res = _result(head, with_mt=False)
    res["settings"]["conductivities"] = [0.465, 0.01, 0.275]
    summary = {"tissues": ["scalp", "skull", "brain"], "cortex_vertices": 20484,
               "surfaces": [{"name": "scalp", "triangles": 5700, "vertices": 2852},
                            {"name": "skull_outer", "triangles": 7584, "vertices": 3794},
                            {"name": "skull_inner", "triangles": 22768, "vertices": 11386}]}
    _, text = _parse(report_html(res, head=summary, generated_utc="x"))
    assert "scalp 0.465 S/m, skull 0.01 S/m, brain 0.275 S/m" in text
    for s in summary["surfaces"]:
        assert s["name"] in text and str(s["triangles"]) in text
    assert str(5700 + 7584 + 22768) in text
