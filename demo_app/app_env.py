"""The contract between `static-edge demo` and the Streamlit app (kept free of Streamlit imports)."""

BUNDLES_ENV = "STATIC_EDGE_DEMO_BUNDLES"
"""Bundle folders the app shows, joined with os.pathsep."""
