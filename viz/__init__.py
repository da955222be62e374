"""Visualisation and metrics on arrays: overlays, animations, exports. No Streamlit here."""
