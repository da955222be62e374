"""Programs over the ``model`` library: training (``python -m experiments.train``) and
evaluation (``python -m experiments.evaluate``). The library never imports these."""
