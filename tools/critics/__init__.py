"""Critics, one module per modality: every artifact gets quality, novelty and adherence in 0..1
plus the raw sub-metrics (``tools.artifacts.Scores``). ``band`` is the shared soft band."""


def band(x: float, lo: float, hi: float, soft: float) -> float:
    """1 inside [lo, hi], falling linearly to 0 at ``soft`` outside it."""
    if lo <= x <= hi:
        return 1.0
    d = lo - x if x < lo else x - hi
    return float(max(0.0, 1.0 - d / soft))
