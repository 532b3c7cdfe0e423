"""The model block of every result: tissues, triangles per surface, conductivities, solver, error estimate."""

import numpy as np
import pytest

from tmsfield.head import Head, icosphere
from tmsfield.solver import EFieldSolver
from tmsfield.targets.model_card import describe_model, format_model


@pytest.mark.random
def test_bem_card_states_the_solvers_own_tissues_and_conductivities(rng):
    # conductivities drawn afresh (S/m, log-uniform over the physiological range): the card must report the
    # values the solver actually used, per tissue, and the triangle counts of the head it solved
    head = Head.from_surfaces([icosphere(90.0, 2, name="scalp"), icosphere(84.0, 2, name="skull_outer"),
                               icosphere(78.0, 1, name="brain")])
    sig = {t: float(10 ** rng.uniform(-2.5, 0.3)) for t in head.tissues}
    solver = EFieldSolver(head, sig)
    card = describe_model(head, "bem", solver)
    assert card["tissues"] == list(head.tissues)
    assert [s["n_triangles"] for s in card["surfaces"]] == [b.triangles.shape[0] for b in head.boundaries]
    assert card["n_triangles"] == sum(b.triangles.shape[0] for b in head.boundaries)
    assert card["conductivities_s_per_m"] == pytest.approx(sig, rel=1e-12)
    edges = [np.linalg.norm(b.vertices[b.triangles] - b.vertices[np.roll(b.triangles, 1, axis=1)], axis=2).mean()
             for b in head.boundaries]
    assert [s["mean_edge_mm"] for s in card["surfaces"]] == pytest.approx(edges, abs=1e-3)
    assert card["solver"]["near_factor"] == solver.near_factor
    text = format_model(card)
    assert "3 tissues" in text and all(f"{t} {sig[t]:g}" in text for t in head.tissues)
    assert card["discretisation_error"]["relative_percent"] is None and card["discretisation_error"]["reason"]


def test_sphere_card_says_it_does_not_depend_on_conductivities():
    head = Head.from_surfaces([icosphere(90.0, 2, name="scalp"), icosphere(80.0, 2, name="brain")])
    card = describe_model(head, "sphere")
    assert card["conductivities_s_per_m"] is None
    assert "independent of conductivities" in card["solver"]["method"]
