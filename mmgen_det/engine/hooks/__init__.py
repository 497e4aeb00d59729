from .generation_hook import GLIGENGenerationHook

__all__ = ['GLIGENGenerationHook']
