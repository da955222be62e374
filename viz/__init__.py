"""Drawing, and nothing else: pure functions on arrays and records, no Streamlit, no computing.

- ``frames``: arrays to draw (overlays, glance frames, panels, the heads sheet), the ``Display``
  choices and ``Shown`` (what is shown: the image, its clean prediction, the attack, the box);
- ``figures``: plotly figures (animations, probability curves, the glance grid, the race);
- ``sweep`` and ``belief``: the strength sweep (lines, a strip of maps) and the belief's path (a
  figure, and its picture for the PNG);
- ``files``: export files as bytes (GIF, WebM, PNG, HTML, NPZ) and their metadata.
"""
