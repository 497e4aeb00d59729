"""Runner-side pieces: weight initialisation and hooks (registered into mmdet's registries)."""
