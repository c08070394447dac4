"""Deprecation helpers shared by the public functions (one code path, API.md "keyword-only").

:func:`keyword_only_after` lets a function whose options became keyword-only keep
accepting the old positional calls for one release, with a ``FutureWarning`` that names
the function and the parameters (the scikit-image ``deprecate_parameter`` pattern).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["keyword_only_after"]

F = TypeVar("F", bound=Callable[..., Any])

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def keyword_only_after(
    n: int, *, since: str = "0.2", removal: str = "0.3", order: Sequence[str] | None = None
) -> Callable[[F], F]:
    """Accept positional values for the keyword-only options after the ``n`` first parameters.

    The decorated function declares its options keyword-only (after ``*``); a call that
    still passes them positionally (the pre-``since`` signature) is mapped onto their names,
    in ``order``, with a ``FutureWarning`` naming the function and the parameters.
    ``help()`` and :func:`inspect.signature` show the real (new) signature.

    Parameters
    ----------
    n : int
        How many leading parameters stay positional (the data, and ``pixel_size``).
    since : str
        Release in which the options became keyword-only.
    removal : str
        Release in which the positional form stops working.
    order : sequence of str, optional
        Names the old extra positional arguments stood for, in their old order (default:
        the keyword-only parameters in declaration order).

    Returns
    -------
    callable
        The decorator.

    Examples
    --------
    >>> import warnings
    >>> @keyword_only_after(1)
    ... def scale(data, *, factor=1.0):
    ...     return data * factor
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     value = scale(2.0, 3.0)
    >>> value, w[0].category.__name__
    (6.0, 'FutureWarning')
    >>> str(w[0].message).split(";")[0]
    'scale(): passing factor positionally is deprecated since 0.2'
    """

    def decorate(fn: F) -> F:
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())
        n_pos = sum(p.kind in _POSITIONAL for p in params)
        if n_pos != n:
            raise TypeError(f"{fn.__qualname__} has {n_pos} positional parameters, not {n}")
        kwonly = [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
        names = list(order) if order is not None else kwonly
        if not set(names) <= set(kwonly):
            raise TypeError(f"{fn.__qualname__}: order names {names} must be keyword-only")
        qual = fn.__name__

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if len(args) > n:
                extra = args[n:]
                if len(extra) > len(names):
                    raise TypeError(
                        f"{qual}() takes {n + len(names)} positional arguments at most "
                        f"(deprecated form) but {len(args)} were given"
                    )
                mapped = names[: len(extra)]
                twice = [k for k in mapped if k in kwargs]
                if twice:
                    raise TypeError(f"{qual}() got multiple values for argument {twice[0]!r}")
                warnings.warn(
                    f"{qual}(): passing {', '.join(mapped)} positionally is deprecated since "
                    f"{since}; pass {', '.join(f'{k}=...' for k in mapped)} by keyword (the "
                    f"positional form stops working in {removal})",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs.update(zip(mapped, extra, strict=True))
                args = args[:n]
            return fn(*args, **kwargs)

        wrapper.__signature__ = sig  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
