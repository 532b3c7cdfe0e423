"""A subject T1 made from the MNI152 T1 by a known smooth warp (tests and benchmarks of tmsfield.head.from_t1).

The subject image is S(y) = T(psi(y)) with psi(y) = A y + sum_k a_k exp(-|y - c_k|^2 / (2 s_k^2)): an affine
(small rotation, scaling, shift) plus Gaussian displacement bumps of a few mm. ``max|grad bumps| <= 0.3`` by
construction, so psi is invertible and MNI points map to the subject by the fixed-point iteration
y = A^-1 (x - bumps(y)).
"""

import numpy as np


class KnownWarp:
    """psi: subject → MNI (mm) and its inverse, drawn from ``rng``."""

    def __init__(self, rng, n_bumps=6, amplitude_mm=(2.0, 4.0), sigma_mm=(22.0, 32.0), rot_deg=4.0, scale=0.04,
                 shift_mm=4.0):
        ang = np.deg2rad(rng.uniform(-rot_deg, rot_deg, 3))
        cx, cy, cz = np.cos(ang)
        sx, sy, sz = np.sin(ang)
        rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
        ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
        self.A = rz @ ry @ rx @ np.diag(1.0 + rng.uniform(-scale, scale, 3))
        # a shift of 1-1.5 x shift_mm in a random direction (not per axis: never near zero), so the warp always
        # moves the template by well over the tests' 2 mm tolerance
        d = rng.normal(size=3)
        self.b = d / np.linalg.norm(d) * rng.uniform(shift_mm, 1.5 * shift_mm)
        self.centres = rng.uniform([-50, -70, -20], [50, 50, 50], (n_bumps, 3))
        dirs = rng.normal(size=(n_bumps, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        self.vecs = dirs * rng.uniform(*amplitude_mm, (n_bumps, 1))
        self.sigmas = rng.uniform(*sigma_mm, n_bumps)
        # max |grad| of one bump is a / (s sqrt(e)); the sum is bounded by the sum of those
        bound = float(np.sum(np.linalg.norm(self.vecs, axis=1) / (self.sigmas * np.sqrt(np.e))))
        if bound > 0.3:               # keep psi invertible: shrink all bumps alike (deterministic)
            self.vecs *= 0.3 / bound
        self.max_grad = min(bound, 0.3)

    def bumps(self, y):
        d2 = ((y[:, None, :] - self.centres[None]) ** 2).sum(-1)
        w = np.exp(-d2 / (2 * self.sigmas[None] ** 2))
        return w @ self.vecs

    def subject_to_mni(self, y):
        y = np.atleast_2d(y)
        return y @ self.A.T + self.b + self.bumps(y)

    def mni_to_subject(self, x, iterations=60):
        x = np.atleast_2d(np.asarray(x, float))
        Ai = np.linalg.inv(self.A)
        y = (x - self.b) @ Ai.T
        for _ in range(iterations):
            y = (x - self.b - self.bumps(y)) @ Ai.T
        return y


def make_subject_t1(template_t1, warp, path, voxel_mm=2.0):
    """Write the warped template T1 (``voxel_mm`` isotropic, the template's field of view + 10 mm) to ``path``."""
    import nibabel as nib
    from scipy.ndimage import map_coordinates
    img = nib.load(str(template_t1))
    data = np.asarray(img.dataobj, dtype=np.float32)
    a = img.affine
    lo = a[:3, 3] - 10.0
    hi = a[:3, :3] @ (np.asarray(img.shape) - 1.0) + a[:3, 3] + 10.0
    n = np.ceil((hi - lo) / voxel_mm).astype(int) + 1
    aff = np.diag([voxel_mm] * 3 + [1.0])
    aff[:3, 3] = lo
    ijk = np.stack(np.meshgrid(*[np.arange(k, dtype=float) for k in n], indexing="ij"), -1).reshape(-1, 3)
    y = ijk @ aff[:3, :3].T + aff[:3, 3]
    out = np.empty(len(y), np.float32)
    inv = np.linalg.inv(a)
    if voxel_mm > 1.2:   # average the 1 mm template over the coarser voxel before sampling
        from scipy.ndimage import gaussian_filter
        data = gaussian_filter(data, 0.4 * voxel_mm)
    for s in range(0, len(y), 500_000):
        x = warp.subject_to_mni(y[s:s + 500_000])
        v = x @ inv[:3, :3].T + inv[:3, 3]
        out[s:s + 500_000] = map_coordinates(data, v.T, order=1, mode="constant", cval=0.0)
    nib.save(nib.Nifti1Image(out.reshape(tuple(n)), aff), str(path))
    return path
