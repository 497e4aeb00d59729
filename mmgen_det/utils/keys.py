"""Unknown keys are errors: a misspelt setting must stop the run, not leave the default silently in force.

The one check for every settings dict a user writes (the experiment config, a ``generation`` dict and
its generator, a synthetic dataset's ``filter_cfg``): it names each unknown key, the closest allowed
one and all allowed keys.
"""
from __future__ import annotations

import difflib
from typing import Collection, Iterable

#: keys mmengine's config inheritance and registries leave in a dict: never a user's typo
MMENGINE_KEYS = frozenset({'_base_', '_delete_', '_scope_', '_deprecation_'})


class UnknownKeyError(ValueError):
    """A settings dict has a key that its reader does not know."""


def check_keys(given: Iterable, allowed: Collection[str], where: str,
               error: type[UnknownKeyError] = UnknownKeyError) -> None:
    """Raise ``error`` naming every key of ``given`` that is neither in ``allowed`` nor an mmengine
    key, with the closest allowed key (``difflib``) and the allowed keys."""
    unknown = sorted(str(k) for k in given if k not in allowed and k not in MMENGINE_KEYS)
    if not unknown:
        return
    names = sorted(str(a) for a in allowed)
    hints = [f'{match[0]!r} for {key!r}' if len(unknown) > 1 else repr(match[0])
             for key in unknown for match in [difflib.get_close_matches(key, names, n=1)] if match]
    hint = f' (did you mean {", ".join(hints)}?)' if hints else ''
    raise error(f'{where}: unknown keys {unknown}{hint}; allowed: {names}')
