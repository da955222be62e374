"""Programs over the ``model`` library: training (``python -m programs.train``) and
evaluation (``python -m programs.evaluate``). The library never imports these."""
