"""The Streamlit page: ``app.py`` builds the sidebar and the navigation over ``ui.views``.

- ``resources``: what one process shares (models, the Lab, the gallery, the catalogue);
- ``state``: the page's settings, their defaults and their URL (the link) in one home;
- ``sidebar``: the choices (model, image, attack, display) as typed records;
- ``scene``: what is shown (the model, image, clean view and attack) for every view to read;
- ``widgets``: small pieces shared by the views (progress, guarded runs, top-5);
- ``links``: the URL codec, pure Python;
- ``views/``: one module per view; adding a view is one file and one line in ``views.VIEWS``.
"""
