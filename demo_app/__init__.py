"""static-edge demo_app."""
