"""Narrow, documented patches to the OpenMMLab stack. Each module says which upstream issue it works
around and when it can go; nothing else in the package patches third-party code."""
