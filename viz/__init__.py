"""Everything the app computes and draws, with no Streamlit, grouped by what it produces:

- ``images``: images in (uploads decoded, the sample gallery);
- ``runs``: model runs for display (an attack with its drift, attributions, readouts);
- ``studies``: the paper's experiments as numbers (glance grid, per-image race, batch rows);
- ``links``: the page's settings as checked URL query parameters (shareable views);
- ``frames``: arrays to draw (overlays, glance frames, panels);
- ``figures``: plotly figures (animations, probability curves, the race);
- ``files``: export files as bytes (GIF, WebM, PNG, HTML, NPZ); ``export`` is their CLI;
- ``lab``: the cached computations shared by every session (with its cache and attack gate);
- ``catalog``: the checkpoints the app offers.
"""
