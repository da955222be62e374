"""The command-line programs over the library, each a console script: ``s3ta-train``
(``train/``), ``s3ta-evaluate`` (``evaluate/``), ``s3ta-distill`` (``distill/``), ``s3ta-export``
(``export.py``) and ``s3ta-lab`` (``lab.py``, starts the app); ``seeds`` and ``distributed`` are
their helpers. The library never imports these."""
