"""What the page and the programs compute, with no Streamlit and no drawing:

- ``lab``: the cached computations shared by every session of a server; ``cache`` its bounded
  result cache and the gate on concurrent attacks;
- ``runs``: one attack with the drift of its iterates, attributions, readouts, the page's default attack;
- ``studies``: the paper's experiments as numbers (glance grid, per-image race, batch rows) and the
  budgets the experiment views open with;
- ``sweep``: one image attacked at several budgets in one batch; ``belief``: the belief's path on a
  model's stored plane;
- ``images``: images in (uploads decoded, the sample galleries);
- ``domain``: whether an image is inside a model's training domain;
- ``catalog``: the checkpoints offered.
"""
